"""Admin of the analysis app: read-only selectivity scores and their report, label overrides,
the ratings report."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from analysis.labels import WordNetMissingError
from analysis.models import LabelAgreementOverride, SelectivityScore
from experiment.models import Experiment


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

    def changelist_view(self, request, extra_context=None):
        networks = SelectivityScore.objects.order_by("network").values_list("network", flat=True)
        extra = {"networks": list(networks.distinct())} | (extra_context or {})
        return super().changelist_view(request, extra)

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        name = "analysis_selectivity_report"
        return [path("report/<str:network>/", report, name=name), *super().get_urls()]

    def report_view(self, request, network):
        """The selectivity report page (analysis/report_page.py), for staff who may view scores."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        from analysis.report_page import selectivity_page  # pandas etc.: see report_view below

        return selectivity_page(self.admin_site, request, network)


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
        from analysis.services import overrides_pair  # loads WordNet; see report_view

        try:
            pair = overrides_pair(cleaned["label_a"], cleaned["label_b"])
        except (ValueError, WordNetMissingError) as error:
            raise forms.ValidationError(str(error)) from error
        cleaned["label_a"], cleaned["label_b"] = pair
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
        """The ratings report page (analysis/report_page.py), for staff who may see the answers
        and participants it is made of."""
        if not all(
            request.user.has_perm(f"experiment.view_{model}")
            for model in ("response", "participant")
        ):
            raise PermissionDenied
        # Imported here: it needs pandas, SciPy, matplotlib and torch, which the participant
        # pages never do, and every web worker would load them at start (about 0.8 GB).
        from analysis.report_page import report_page

        return report_page(self.admin_site, request, slug)
