"""Admin of the analysis app: read-only selectivity scores, label overrides, the ratings report."""

import base64

from django import forms
from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from analysis.labels import WordNetMissingError, pair_key
from analysis.models import LabelAgreementOverride, SelectivityScore
from analysis.ratings.correlations import correlation_matrix
from analysis.ratings.report import format_cell, ratings_report_figures, table1_display
from analysis.ratings.table1 import Table1Settings
from analysis.selectors import (
    PARTICIPANT_CHOICES,
    RatingsInputError,
    labels_class_index,
    ratings_report,
)
from analysis.services import overrides_normalise
from experiment.models import Experiment

MAX_DECISIONS_SHOWN = 300


@admin.register(SelectivityScore)
class SelectivityScoreAdmin(admin.ModelAdmin):
    """Scores are computed or imported by commands; the admin only shows them."""

    list_display = ["__str__", "precision", "ccmas", "max_informedness", "most_active_class"]
    list_filter = ["network", "layer", "is_dead", "is_localist"]
    search_fields = ["network", "layer", "unit"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OverrideForm(forms.ModelForm):
    """Labels are stored normalised and in sorted order, so one pair is one decision."""

    class Meta:
        model = LabelAgreementOverride
        fields = ["label_a", "label_b", "agree", "note"]
        help_texts = {
            "label_a": "A label ('dogs' is stored as 'dog') or an ImageNet id (n02099267)."
        }

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("label_a") or not cleaned.get("label_b"):
            return cleaned  # the field errors say what is missing
        try:
            first = overrides_normalise(cleaned.get("label_a", ""))
            second = overrides_normalise(cleaned.get("label_b", ""))
        except (ValueError, WordNetMissingError) as error:
            raise forms.ValidationError(str(error)) from error
        cleaned["label_a"], cleaned["label_b"] = pair_key(first, second)
        self.instance.label_a, self.instance.label_b = cleaned["label_a"], cleaned["label_b"]
        return cleaned


@admin.register(LabelAgreementOverride)
class LabelAgreementOverrideAdmin(admin.ModelAdmin):
    """Researchers' agreement decisions; the ratings report pages hang off this admin."""

    form = OverrideForm
    list_display = ["label_a", "label_b", "agree", "note", "decided_by", "decided_at"]
    list_filter = ["agree"]
    search_fields = ["label_a", "label_b", "note"]

    def save_model(self, request, obj, form, change):
        obj.decided_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    def changelist_view(self, request, extra_context=None):
        extra = {"experiments": Experiment.objects.all()} | (extra_context or {})
        return super().changelist_view(request, extra)

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        name = "analysis_ratings_report"
        return [path("ratings/<slug:slug>/", report, name=name), *super().get_urls()]

    def report_view(self, request, slug):
        """The ratings report of one experiment, for staff (analyze_ratings' page twin)."""
        experiment = get_object_or_404(Experiment, slug=slug)
        options = _report_options(request)
        context = self.admin_site.each_context(request) | {
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
        else:
            context |= _report_context(report, options["q"])
        return TemplateResponse(request, "admin/analysis/ratings_report.html", context)


def _report_options(request) -> dict:
    """participants, bootstrap (capped at 500) and the label search from the query string."""
    participants = request.GET.get("participants", "real")
    bootstrap = request.GET.get("bootstrap", "0")
    return {
        "participants": participants if participants in PARTICIPANT_CHOICES else "real",
        "bootstrap": min(int(bootstrap), 500) if bootstrap.isdigit() else 0,
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
    figures = {
        name: base64.b64encode(png).decode() for name, png in ratings_report_figures(report).items()
    }
    return {
        "report": report,
        "table1": _table(table1_display(report.table1)),
        "tables": {
            "Interpretability vs selectivity (Spearman / Pearson)": _table(
                correlation_matrix(report.correlations)
            ),
            "Q2 calibration": _table(report.calibration),
            "Practice trials (not in Table 1)": _table(report.practice),
            "Participants": _table(report.quality),
        },
        "figures": figures,
        "decisions": shown,
        "decisions_total": len(decisions),
    }
