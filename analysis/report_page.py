"""The report pages of the admin: the ratings report (Table 1, correlations, figures and label
decisions) and a network's selectivity report (counts, figure 2, tables 2 and 3).

Kept apart from admin.py, which imports it on first use, so the web server's workers do not
load pandas, SciPy, matplotlib and torch until a researcher opens a report.
"""

import base64
import hashlib
import re
import threading

import pandas as pd
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from analysis.labels import WordNetMissingError
from analysis.ratings.report import (
    ratings_report_figures,
    ratings_report_sections,
    table1_display,
)
from analysis.ratings.table1 import Table1Settings
from analysis.report_files import format_cell
from analysis.selectivity.report import FIGURE, selectivity_report_sections
from analysis.selectors import (
    PARTICIPANT_CHOICES,
    RatingsInputError,
    SelectivityReportError,
    labels_class_index,
    ratings_participant_counts,
    ratings_report,
    selectivity_layers,
    selectivity_report,
)
from experiment.models import Experiment

MAX_DECISIONS_SHOWN = 300
# The figures of the last few reports shown, by the digest of what they are drawn from: a label
# search, a page reloaded with no new answer, draws none again (7 figures, about 2 s of the
# page's 2.5 s at the paper's size). About 1 MB each.
FIGURES_KEPT = 4
_figures_kept: dict[str, dict[str, str]] = {}
_figures_lock = threading.Lock()


def report_page(admin_site, request, slug):
    """The ratings report of one experiment, for staff (analyze_ratings' page twin)."""
    experiment = get_object_or_404(Experiment, slug=slug)
    options = _report_options(request)
    context = admin_site.each_context(request) | {
        "title": f"Ratings report: {experiment.title}",
        "experiment": experiment,
        "options": options,
        "participant_choices": PARTICIPANT_CHOICES,
    }
    try:
        report = ratings_report(
            experiment=experiment,
            participants=options["participants"],
            table_settings=Table1Settings(bootstrap=options["bootstrap"]),
        )
    except (RatingsInputError, WordNetMissingError) as error:
        context["error"] = str(error)
        # The demo, say: simulated participants only, whose report is one click away.
        counts = ratings_participant_counts(experiment=experiment)
        context["synthetic_link"] = (
            options["participants"] == "real"
            and not counts["real_answered"]
            and counts["synthetic"] > 0
            and isinstance(error, RatingsInputError)
        )
    else:
        context |= _report_context(report, options["q"])
    return TemplateResponse(request, "admin/analysis/ratings_report.html", context)


def _report_options(request) -> dict:
    """participants, bootstrap (0, or 2 to 500: one replicate gives no standard error) and the
    label search from the query string."""
    participants = request.GET.get("participants", "real")
    bootstrap = request.GET.get("bootstrap", "0")
    # ASCII digits only, and few: "²" is a digit to str.isdigit, and int() refuses it.
    replicates = int(bootstrap) if re.fullmatch(r"[0-9]{1,6}", bootstrap) else 0
    return {
        "participants": participants if participants in PARTICIPANT_CHOICES else "real",
        "bootstrap": min(max(replicates, 2), 500) if replicates else 0,
        "q": request.GET.get("q", "").strip().lower(),
    }


def _table(frame) -> dict:
    """A DataFrame as columns and formatted rows for the template."""
    rows = [[format_cell(value) for value in row] for row in frame.itertuples(index=False)]
    return {"columns": [str(c) for c in frame.columns], "rows": rows}


def _report_context(report, query: str) -> dict:
    """Tables, inline figures and the label decisions to review."""
    decisions = report.decisions
    if len(decisions) and query:
        decisions = decisions[
            decisions.label_a.str.contains(query, regex=False)
            | decisions.label_b.str.contains(query, regex=False)
        ]
    if len(decisions):
        decisions = decisions.sort_values("override", key=lambda s: s.isna(), kind="stable")
    names = {wnid: name for wnid, name in labels_class_index().values()}
    shown = decisions.head(MAX_DECISIONS_SHOWN).to_dict("records")
    for row in shown:  # an ImageNet id reads better with its class name beside it
        row["name_a"], row["name_b"] = names.get(row["label_a"], ""), names.get(row["label_b"], "")
    return {
        "report": report,
        "table1": _table(table1_display(report.table1)),
        "tables": {
            heading: _table(table) for heading, table in ratings_report_sections(report).items()
        },
        "figures": _figures(report),
        "decisions": shown,
        "decisions_total": len(decisions),
    }


def _figures(report) -> dict[str, str]:
    """The report's figures as base64 PNG, drawn again only when what they show changed."""
    digest = hashlib.sha256()
    for frame in (report.table1, report.calibration, report.units):
        digest.update(repr(list(frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    key = digest.hexdigest()
    with _figures_lock:
        if key in _figures_kept:
            return _figures_kept[key]
    figures = {
        name: base64.b64encode(png).decode() for name, png in ratings_report_figures(report).items()
    }
    with _figures_lock:
        _figures_kept[key] = figures
        while len(_figures_kept) > FIGURES_KEPT:
            del _figures_kept[next(iter(_figures_kept))]
    return figures


def selectivity_page(admin_site, request, network):
    """The selectivity report of a network's stored scores (selectivity_report's page twin),
    of the layers ticked in the query string (default all)."""
    stored = selectivity_layers(network=network)
    chosen = [layer for layer in request.GET.getlist("layer") if layer in stored] or stored
    context = admin_site.each_context(request) | {
        "title": f"Selectivity report: {network}",
        "network": network,
        "layers": [(layer, layer in chosen) for layer in stored],
    }
    try:
        report = selectivity_report(network=network, layers=chosen, top=5)
    except SelectivityReportError as error:
        context["error"] = str(error)
    else:
        context |= {
            "report": report,
            "figure": base64.b64encode(report.figure).decode(),
            "figure_name": FIGURE,
            "tables": {
                heading: _table(table)
                for heading, table in selectivity_report_sections(report).items()
            },
        }
    return TemplateResponse(request, "admin/analysis/selectivity_report.html", context)
