"""A network's selectivity report (paper section 3.1): counts, figure 2, tables 2 and 3, files.

Scores in as a table (one row per unit, SelectivityScore's fields as columns); no Django.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.report_files import markdown_table, report_write
from analysis.selectivity.plots import measures_figure
from analysis.selectivity.summary import (
    MEASURES,
    correlation_triangle,
    layer_counts,
    measure_correlations,
    measure_summary,
    top_units,
)

TABLE_STEMS = ("counts", "measures", "top_units", "measure_correlations")
FIGURE = "measures.png"
# Every file a report writes; an earlier report's are removed first.
REPORT_FILES = (*(f"{stem}.csv" for stem in TABLE_STEMS), "report.md", "settings.json", FIGURE)


@dataclass
class SelectivityReport:
    """Everything selectivity_report writes."""

    network: str
    counts: pd.DataFrame
    summary: pd.DataFrame
    top: pd.DataFrame
    correlations: pd.DataFrame
    figure: bytes
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by file stem (TABLE_STEMS)."""
        tables = (self.counts, self.summary, self.top, self.correlations)
        return dict(zip(TABLE_STEMS, tables, strict=True))


def selectivity_report_compute(
    scores: pd.DataFrame, *, network: str, class_name: Callable[[int], str], top: int = 1
) -> SelectivityReport:
    """The report of one network's stored scores, its layers in the order of `scores`.

    `class_name`: an output class's name from its index; `top`: units per layer and measure
    in Table 2 (the paper lists one).
    """
    return SelectivityReport(
        network=network,
        counts=layer_counts(scores),
        summary=measure_summary(scores),
        top=top_units(scores, top, class_name),
        correlations=measure_correlations(scores),
        figure=measures_figure(scores, measure_labels(scores), f"{network}: selectivity per layer"),
        notes=score_notes(scores),
        settings={"network": network, "top": top, "scores": score_sources(scores)},
    )


def measure_labels(scores: pd.DataFrame) -> dict[str, str]:
    """MEASURES' labels, precision's with the top-k the scores were measured with."""
    ks = sorted(set(scores["precision_k"].dropna().astype(int)))
    k = "/".join(map(str, ks)) or "60"
    return MEASURES | {"precision": f"precision (top {k})"}


def score_sources(scores: pd.DataFrame) -> list[dict]:
    """Per layer, where its scores came from: source, compat ('' for the correct definitions),
    weights digest, images measured and top-k of precision, with how many units each."""
    keys = ["layer", "source", "compat", "weights_sha256", "n_images", "precision_k"]
    counts = scores.groupby(keys, sort=False, dropna=False).size()
    return [dict(zip(keys, key, strict=True)) | {"units": int(n)} for key, n in counts.items()]


def score_notes(scores: pd.DataFrame) -> list[str]:
    """What a reader must know before comparing the layers: scores that follow the paper's code
    rather than the correct definitions, a CCMAS outside [-1, 1] (logits), and layers measured
    on other images, weights or precision top-k."""
    notes = []
    compat = sorted(set(scores["compat"].fillna("")) - {""})
    if compat:
        notes.append(
            f"Some scores follow the {', '.join(compat)} conventions, not the correct definitions "
            "(docs/measures.md); recompute without --compat to compare."
        )
    unbounded = [
        layer
        for layer, group in scores.groupby("layer", sort=False)
        if (group["ccmas"].dropna().abs() > 1 + 1e-9).any()
    ]
    if unbounded:
        notes.append(
            f"CCMAS of {', '.join(unbounded)} runs outside [-1, 1] (logits or pre-ReLU values): "
            "its counts above 0.9, its panel's scale and the pooled correlations do not compare "
            "with rectified layers'; leave it out with --layers (the paper's figure 2 has conv5, "
            "fc6 and fc7)."
        )
    notes += recording_notes(scores)
    for column, what in (
        ("n_images", "numbers of images"),
        ("weights_sha256", "weights"),
        ("precision_k", "precision top-k"),
    ):
        values = sorted(set(scores[column].dropna().astype(str)) - {""})
        if len(values) > 1:
            shown = ", ".join(value[:12] for value in values)
            notes.append(f"The layers' scores were measured with different {what} ({shown}).")
    return notes


def recording_notes(scores: pd.DataFrame) -> list[str]:
    """Layers whose activations were recorded otherwise than the others' (record_activations
    --pre-relu, --reduction): their measures do not compare, nor pool in one correlation."""
    notes = []
    # Tables from before these were recorded lack the columns: nothing to compare then.
    layers = scores.reindex(columns=["layer", "pre_relu", "reduction"]).groupby("layer", sort=False)
    pre_relu = layers["pre_relu"].first().dropna()
    if pre_relu.nunique() > 1:
        before = ", ".join(layer for layer, pre in pre_relu.items() if pre)
        after = ", ".join(layer for layer, pre in pre_relu.items() if not pre)
        notes.append(
            f"The layers were recorded at different points: {before} before the ReLU, {after} "
            "after it (record_activations --pre-relu): their measures do not compare. Record "
            "them again in one run."
        )
    reduction = layers["reduction"].first().dropna()
    reduction = reduction[reduction != ""]  # fc layers, or not recorded
    if reduction.nunique() > 1:
        shown = "; ".join(
            f"{', '.join(group.index)} by the {how}"
            for how, group in reduction.groupby(reduction, sort=False)
        )
        notes.append(
            f"The conv layers' maps were reduced to one value per channel differently ({shown}; "
            "record_activations --reduction): their measures do not compare. Record them again "
            "in one run."
        )
    return notes


def selectivity_report_sections(report: SelectivityReport) -> dict[str, pd.DataFrame]:
    """The report's tables by heading, as report.md and the admin page show them."""
    layers = list(report.counts["layer"])
    return {
        "Units per layer": report.counts,
        f"Measures per layer (figure 2: {FIGURE})": report.summary,
        "Units of highest CCMAS and precision (table 2)": report.top,
    } | {
        f"Correlations between the measures, {layer} (table 3; Spearman / Pearson)": (
            correlation_triangle(report.correlations, layer)
        )
        for layer in ["all", *layers]
    }


def selectivity_report_markdown(report: SelectivityReport) -> str:
    """The report as Markdown: the notes, then selectivity_report_sections."""
    parts = [f"# Selectivity of {report.network}", ""]
    parts += [f"- {note}" for note in report.notes] + ([""] if report.notes else [])
    for heading, table in selectivity_report_sections(report).items():
        parts += [f"## {heading}", "", markdown_table(table) if len(table) else "(none)", ""]
    return "\n".join(parts)


def selectivity_report_save(report: SelectivityReport, out_dir: Path) -> list[Path]:
    """Write the CSVs, report.md, settings.json and the figure; returns the paths written.
    An earlier report's files in out_dir are removed first; other files are left alone."""
    return report_write(
        out_dir, kind="selectivity", names=REPORT_FILES, tables=report.tables(),
        markdown=selectivity_report_markdown(report), settings=report.settings,
        figures={FIGURE: report.figure},
    )  # fmt: skip
