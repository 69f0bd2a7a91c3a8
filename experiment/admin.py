"""The researchers' side: experiments, panels, lists, participants, responses and progress."""

import io
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from experiment.export import participants_csv_write, responses_csv_write
from experiment.files import os_error_message
from experiment.models import (
    Experiment,
    Panel,
    Participant,
    Response,
    TrialList,
    TrialListItem,
    Withdrawal,
)
from experiment.selectors import (
    active_within_hold,
    experiment_problems,
    experiment_progress,
    hold_minutes,
    participant_state,
)
from experiment.services import (
    EXCLUSION_REASON_MAX_CHARS,
    ListsBuildRefused,
    StudyUnavailable,
    experiment_lists_build,
    participant_pilot_create,
    participants_exclude,
    participants_include,
    participants_mturk_assignment_release,
    participants_withdraw,
    withdrawal_digests,
)

# The study link's query for Prolific, which fills in the placeholders for each participant.
PROLIFIC_QUERY = (
    "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
)


def count_of(model, field: str):
    """The number of `model` rows whose `field` is the annotated row, as a subquery: joins
    for two counts would multiply (a study's 3,299 panels by its 64 lists)."""
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")), 0)


def deletion_counted(admin_site, request, lines: list[str], counts: dict) -> tuple:
    """What Django's delete page shows (get_deleted_objects' four values), with what goes
    counted by model (`counts`: model -> rows) rather than listed: Django lists every related
    row, a query or more each (a study's 20,000 answers took 18 s, its panels and list items
    46 s). Deleting needs the delete permission for every model with rows."""
    model_count = {model._meta.verbose_name_plural: n for model, n in counts.items() if n}
    perms_needed = {
        model._meta.verbose_name
        for model, n in counts.items()
        if n
        and model in admin_site._registry
        and not admin_site._registry[model].has_delete_permission(request)
    }
    return lines, model_count, perms_needed, []


def action_confirm_page(
    model_admin, request, template: str, *, title, chosen, action, submit_label, form=None
) -> TemplateResponse:
    """The page an admin action shows before it acts (a template extending
    admin/experiment/action_confirm.html): `chosen` listed, `form` if the action asks for
    something, and a button posting `action` again for the same objects."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "chosen": chosen,
        "form": form,
        "action": action,
        "submit_label": submit_label,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, template, context)


class ChangesOnlyForm(forms.ModelForm):
    """A change form whose `changed_data` are the fields the researcher changed on the page:
    each field carries the value the page showed (a hidden input), so that a value saved
    meanwhile by someone else (a colleague closing the study, analyze_ratings excluding a
    participant) does not count as changed and is not written back (ChangesOnlySave).

    Validation sees the row as stored now, with the page's changes on it: clean() locks the
    row until the admin view's transaction ends and takes every field not changed on the page
    from it. A rule over several fields (a completion code its URL must carry, a reason for an
    exclusion) then holds for what is saved, not only for what the page showed; where it fails
    over a value saved elsewhere meanwhile, the page says so (it shows the older value)."""

    saved_meanwhile: tuple[str, ...] = ()  # fields whose stored value the page did not show

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.show_hidden_initial = True

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        stored = self.stored_row()
        if stored is None:
            raise forms.ValidationError(
                f"This {self._meta.model._meta.verbose_name} was deleted since the page was "
                "opened: nothing was saved."
            )
        merged = [name for name in cleaned if self.stored_field(name)]
        unchanged = [name for name in merged if name not in self.changed_data]
        self.saved_meanwhile = tuple(
            name for name in unchanged if getattr(stored, name) != cleaned[name]
        )
        for name in unchanged:
            cleaned[name] = getattr(stored, name)
        return cleaned

    def full_clean(self):
        super().full_clean()
        if self.saved_meanwhile and self._errors:
            labels = ", ".join(str(self.fields[name].label) for name in self.saved_meanwhile)
            self.add_error(
                None,
                f"Someone saved {labels} since this page was opened, and the page still shows "
                "the earlier value. The checks are of what is stored now with your changes: "
                "reload the page to see it.",
            )

    def stored_field(self, name: str) -> bool:
        """Whether `name` is a field of the row that clean() can take as stored (not a
        many-to-many field, whose value is a manager, nor a form's own field)."""
        try:
            return not self._meta.model._meta.get_field(name).many_to_many
        except FieldDoesNotExist:
            return False

    def stored_row(self):
        """The row as stored now, locked where a transaction holds the lock (the admin's
        views run in one); None for a new row, or one deleted meanwhile."""
        if self.instance.pk is None:
            return None
        rows = type(self.instance)._default_manager.filter(pk=self.instance.pk)
        if transaction.get_connection().in_atomic_block:
            rows = rows.select_for_update()
        return rows.first()


class ChangesOnlySave:
    """ModelAdmin.save_model writing only the fields changed on the page (ChangesOnlyForm):
    the row may have moved on since the page was opened (a participant answered, say)."""

    def save_model(self, request, obj, form, change):
        if change:
            if form.changed_data:
                obj.save(update_fields=form.changed_data)
            return
        super().save_model(request, obj, form, change)


class DeletedBeforeAnyoneEnters:
    """ModelAdmin deletes of experiments, panels or lists that lock their experiments, as
    arrivals do, and delete only while nobody has entered: the delete permission was judged on
    the page before, and a participant who entered since holds these panels in their trial
    order (an experiment's delete would fail on them with a server error)."""

    experiment_field = "experiment_id"  # what names the experiment of a row deleted

    def delete_model(self, request, obj):
        self.delete_queryset(request, type(obj).objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            experiments = Experiment.objects.select_for_update().filter(
                pk__in=queryset.values(self.experiment_field)
            )
            if Participant.objects.filter(experiment__in=list(experiments.order_by("pk"))).exists():
                raise PermissionDenied(
                    "Someone has entered the study meanwhile, so it keeps its panels and lists "
                    "now: delete its participants first."
                )
            super().delete_queryset(request, queryset)


class BuildListsForm(forms.Form):
    lists = forms.IntegerField(min_value=1, help_text="How many counterbalanced lists (K).")
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Leave empty for a random seed."
    )


def experiment_fixed_fields(experiment: Experiment) -> list[str]:
    """The fields of an experiment that can no longer change, given who has entered."""
    real_completed = Q(status=Participant.Status.COMPLETED, is_synthetic=False, is_pilot=False)
    entered = experiment.participants.aggregate(
        anyone=Count("pk"), completed=Count("pk", filter=real_completed)
    )
    if not entered["anyone"]:
        return []
    # Participants' links and the recruitment site's study URL contain the slug; the trial
    # orders already drawn hold that many practice trials (a change would give later
    # participants another protocol, and the instructions another count).
    fixed = ["slug", "practice_trials"]
    # Those who completed were given the code, and pasted it where the recruitment site
    # checks it against the one it was told.
    if entered["completed"]:
        fixed.append("completion_code")
    return fixed


class ExperimentForm(ChangesOnlyForm):
    def clean(self):
        """The page left a field editable that is fixed now when someone entered (or
        completed) after it was opened: arrivals lock the experiment row first, which
        ChangesOnlyForm.clean holds now, so the count below sees every one of them."""
        cleaned = super().clean()
        if self.instance.pk is not None:
            for name in set(experiment_fixed_fields(self.instance)) & set(self.changed_data):
                self.add_error(
                    name,
                    "Someone has entered the study since this page was opened, so this is "
                    "fixed now: reload the page.",
                )
        return cleaned


@admin.register(Experiment)
class ExperimentAdmin(ChangesOnlySave, DeletedBeforeAnyoneEnters, admin.ModelAdmin):
    form = ExperimentForm
    experiment_field = "pk"
    list_display = ["slug", "title", "is_open", "panel_count", "list_count", "progress_link"]
    search_fields = ["slug", "title"]
    readonly_fields = ["created_at"]
    actions = [
        "build_lists",
        "export_responses",
        "export_responses_anonymous",
        "export_participants",
        "export_participants_anonymous",
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request, experiment=None):
        if experiment is None:
            return self.readonly_fields
        fixed = experiment_fixed_fields(experiment)
        if request.method == "POST":  # a page that still offered them: ExperimentForm refuses
            fixed = [name for name in fixed if name not in request.POST]
        return [*self.readonly_fields, *fixed]

    def get_deleted_objects(self, objs, request):
        """Experiments with participants are refused: they go first (their trial orders
        protect the panels), which Django would blame on a missing permission to delete
        panels. Otherwise what goes with each experiment is counted (deletion_counted)."""
        experiments = Experiment.objects.filter(pk__in=[e.pk for e in objs]).annotate(
            n_participants=count_of(Participant, "experiment"),
            n_panels=count_of(Panel, "experiment"),
            n_lists=count_of(TrialList, "experiment"),
            n_withdrawals=count_of(Withdrawal, "experiment"),
        )
        held = [
            f"{e.slug}: {e.n_participants} participants. Delete them first (Participants, "
            "filtered by experiment; synthetic ones: manage.py simulate_responses --delete)."
            for e in experiments
            if e.n_participants
        ]
        if held:
            return [], {}, set(), held
        lines = [
            f"Experiment {e.slug}: {e.n_panels} panels, {e.n_lists} lists, "
            f"{e.n_withdrawals} withdrawals"
            for e in experiments
        ]
        counts = {
            Experiment: len(lines),
            Panel: sum(e.n_panels for e in experiments),
            TrialList: sum(e.n_lists for e in experiments),
            TrialListItem: TrialListItem.objects.filter(trial_list__experiment__in=objs).count(),
            Withdrawal: sum(e.n_withdrawals for e in experiments),
        }
        return deletion_counted(self.admin_site, request, lines, counts)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_panels=count_of(Panel, "experiment"), n_lists=count_of(TrialList, "experiment")
            )
        )

    @admin.display(description="panels", ordering="n_panels")
    def panel_count(self, experiment):
        return experiment.n_panels

    @admin.display(description="lists", ordering="n_lists")
    def list_count(self, experiment):
        return experiment.n_lists

    @admin.display(description="progress")
    def progress_link(self, experiment):
        url = reverse("admin:experiment_experiment_progress", args=[experiment.id])
        return format_html('<a href="{}">progress</a>', url)

    def get_urls(self):
        progress = path(
            "<int:experiment_id>/progress/",
            self.admin_site.admin_view(self.progress_view),
            name="experiment_experiment_progress",
        )
        pilot = path(
            "<int:experiment_id>/pilot/",
            self.admin_site.admin_view(require_POST(self.pilot_view)),
            name="experiment_experiment_pilot",
        )
        return [progress, pilot, *super().get_urls()]

    def has_pilot_permission(self, request, experiment: Experiment) -> bool:
        """Who may change the experiment and delete participants (so their pilot runs too)."""
        return self.has_change_permission(request, experiment) and request.user.has_perm(
            "experiment.delete_participant"
        )

    def pilot_view(self, request, experiment_id: int):
        """Start a pilot run (participant_pilot_create) and go to its first page."""
        experiment = get_object_or_404(Experiment, id=experiment_id)
        if not self.has_pilot_permission(request, experiment):
            raise PermissionDenied
        try:
            participant = participant_pilot_create(
                experiment=experiment, by=request.user.get_username()
            )
        except StudyUnavailable:
            self.message_user(
                request, "Build the lists before a pilot run: it takes a list.", messages.ERROR
            )
            return redirect("admin:experiment_experiment_progress", experiment.id)
        return redirect("experiment:home", slug=experiment.slug, token=participant.token)

    def progress_view(self, request, experiment_id: int):
        """Per list: completed / in progress / abandoned participants; the overall progress."""
        experiment = get_object_or_404(Experiment, id=experiment_id)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Progress of {experiment.slug}",
            "opts": self.model._meta,
            "experiment": experiment,
            "progress": experiment_progress(experiment=experiment),
            "unconsented_hold": hold_minutes(experiment=experiment, consented=False),
            "problems": experiment_problems(experiment=experiment),
            "can_pilot": self.has_pilot_permission(request, experiment),
            "study_link": request.build_absolute_uri(
                reverse("experiment:enter", args=[experiment.slug])
            )
            + PROLIFIC_QUERY,
            "mturk_link": request.build_absolute_uri(
                reverse("experiment:mturk_hit", args=[experiment.slug])
            ),
        }
        return TemplateResponse(request, "admin/experiment/experiment/progress.html", context)

    @admin.action(description="Build counterbalanced lists", permissions=["change"])
    def build_lists(self, request, queryset):
        form = BuildListsForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_confirm_page(
                self, request, "admin/experiment/experiment/build_lists.html",
                title="Build counterbalanced lists", chosen=queryset, action="build_lists",
                submit_label="Build lists", form=form,
            )  # fmt: skip
        for experiment in queryset:
            self.build_lists_one(request, experiment, **form.cleaned_data)
        return None

    def build_lists_one(self, request, experiment, *, lists: int, seed: int | None):
        """Build one experiment's lists and say how it went."""
        try:
            trial_lists = experiment_lists_build(experiment=experiment, lists=lists, seed=seed)
        except ListsBuildRefused as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            f"Built {len(trial_lists)} lists for {experiment.slug} (seed {trial_lists[0].seed}).",
            messages.SUCCESS,
        )

    @admin.action(description="Export responses as CSV", permissions=["view_responses"])
    def export_responses(self, request, queryset):
        return self.csv_download(request, queryset, responses_csv_write, "responses")

    @admin.action(
        description="Export responses as CSV, anonymous (to publish)",
        permissions=["view_responses"],
    )
    def export_responses_anonymous(self, request, queryset):
        write = partial(responses_csv_write, anonymous=True)
        return self.csv_download(request, queryset, write, "responses-anonymous")

    @admin.action(description="Export participants as CSV", permissions=["view_participants"])
    def export_participants(self, request, queryset):
        return self.csv_download(request, queryset, participants_csv_write, "participants")

    @admin.action(
        description="Export participants as CSV, anonymous (to publish)",
        permissions=["view_participants"],
    )
    def export_participants_anonymous(self, request, queryset):
        write = partial(participants_csv_write, anonymous=True)
        return self.csv_download(request, queryset, write, "participants-anonymous")

    # The exports hold what the responses and participants pages show: the same permissions.
    def has_view_responses_permission(self, request):
        return request.user.has_perm("experiment.view_response")

    def has_view_participants_permission(self, request):
        return request.user.has_perm("experiment.view_participant")

    def csv_download(self, request, queryset, write, name: str):
        """One experiment's CSV as a download (`write(experiment=, stream=)` makes it)."""
        if queryset.count() != 1:
            self.message_user(request, "Export one experiment at a time.", messages.ERROR)
            return None
        experiment = queryset.get()
        stream = io.StringIO()
        try:
            write(experiment=experiment, stream=stream)
        except OSError as error:  # the pseudonym key cannot be made: a full VAR_DIR, say
            self.message_user(
                request, f"The export was not made: {os_error_message(error)}.", messages.ERROR
            )
            return None
        response = HttpResponse(stream.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{experiment.slug}-{name}.csv"'
        return response


@admin.register(Panel)
class PanelAdmin(DeletedBeforeAnyoneEnters, admin.ModelAdmin):
    list_display = ["thumbnail", "__str__", "experiment", "network", "layer", "unit"]
    list_display_links = ["thumbnail", "__str__"]
    list_filter = ["experiment", "is_practice", "network", "layer"]
    search_fields = ["source", "network", "layer"]
    # What the panel is and shows is fixed by import_panels / generate_panels (random file
    # names, a display copy, list membership, the generator's settings and activations);
    # practice answers stay editable.
    readonly_fields = [
        "preview",
        "experiment",
        "source",
        "image",
        "display_image",
        "is_practice",
        "network",
        "layer",
        "unit",
        "metadata",
        "created_at",
    ]
    list_per_page = 50

    def has_delete_permission(self, request, panel=None):
        """Not once the experiment has participants: their stored trial orders hold its id
        (practice panels are in no list, so nothing else protects them)."""
        if panel is not None and panel.experiment.participants.exists():
            return False
        return super().has_delete_permission(request, panel)

    def has_add_permission(self, request):
        return (
            False  # panels come from import_panels or generate_panels, which make the display copy
        )

    @admin.display(description="image")
    def thumbnail(self, panel):
        if not panel.display_image:
            return "-"
        return format_html(
            '<img src="{}" alt="{}" style="height:64px" loading="lazy">',
            panel.display_image.url,
            panel,
        )

    @admin.display(description="display image")
    def preview(self, panel):
        if not panel.display_image:
            return "-"
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" style="max-width:600px"></a>',
            panel.image.url,
            panel.display_image.url,
            panel,
        )


@admin.register(TrialList)
class TrialListAdmin(DeletedBeforeAnyoneEnters, admin.ModelAdmin):
    list_display = ["__str__", "experiment", "number", "seed", "panel_count", "participant_count"]
    list_filter = ["experiment"]
    readonly_fields = ["experiment", "number", "seed", "created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_items=count_of(TrialListItem, "trial_list"),
                n_participants=count_of(Participant, "trial_list"),
            )
        )

    @admin.display(description="panels", ordering="n_items")
    def panel_count(self, trial_list):
        return trial_list.n_items

    @admin.display(description="participants", ordering="n_participants")
    def participant_count(self, trial_list):
        return trial_list.n_participants

    def has_add_permission(self, request):
        return False  # lists are made by "build lists", which keeps every panel in one list

    def has_delete_permission(self, request, trial_list=None):
        """Not once the experiment has participants: a list nobody is in yet would take its
        panels out of the study for good (lists cannot be built again then)."""
        if trial_list is not None and trial_list.experiment.participants.exists():
            return False
        return super().has_delete_permission(request, trial_list)


class ParticipantForm(ChangesOnlyForm):
    def clean(self):
        cleaned = super().clean()
        if self.instance.is_pilot and not cleaned.get("excluded"):
            self.add_error(
                "excluded",
                "A pilot run is not a participant and stays excluded; delete it instead.",
            )
        if cleaned.get("excluded") and not cleaned.get("exclusion_reason", "").strip():
            self.add_error(
                "exclusion_reason", "Say why: the report and the exports show the reason."
            )
        return cleaned


class ExclusionForm(forms.Form):
    reason = forms.CharField(
        max_length=EXCLUSION_REASON_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        error_messages={"required": "Say why: the report and the exports show the reason."},
        help_text="Shown in the ratings report and in the exports (not the anonymous ones).",
    )


class StateFilter(admin.SimpleListFilter):
    """The state the study counts by (the "state" column): "abandoned" is not stored but
    follows from the hold time, as for list places."""

    title = parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("in_progress", "in progress"),
            ("abandoned", "abandoned"),
            (Participant.Status.COMPLETED, "completed"),
        ]

    def queryset(self, request, participants):
        if self.value() == Participant.Status.COMPLETED:
            return participants.filter(status=Participant.Status.COMPLETED)
        if self.value() not in ("in_progress", "abandoned"):
            return participants
        active = Q(pk__in=[])
        for experiment in Experiment.objects.all():
            active |= active_within_hold(experiment=experiment)
        if self.value() == "in_progress":
            return participants.filter(active)
        return participants.filter(status=Participant.Status.IN_PROGRESS).exclude(active)


class TrialListFilter(admin.RelatedFieldListFilter):
    """The lists, named with their experiment (one query; Django's took one per list, on every
    participants page); only the chosen experiment's when one is."""

    def field_choices(self, field, request, model_admin):
        lists = TrialList.objects.select_related("experiment").order_by(
            "experiment__slug", "number"
        )
        chosen = request.GET.get("experiment__id__exact", "")
        if chosen.isascii() and chosen.isdigit():
            lists = lists.filter(experiment_id=int(chosen))
        return [(trial_list.pk, str(trial_list)) for trial_list in lists]


@admin.register(Participant)
class ParticipantAdmin(ChangesOnlySave, admin.ModelAdmin):
    form = ParticipantForm
    list_display = [
        "external_id",
        "experiment",
        "trial_list",
        "state",
        "progress",
        "started_at",
        "last_seen_at",
        "completed_at",
        "duration",
        "is_synthetic",
        "is_pilot",
        "excluded",
    ]
    list_filter = [
        "experiment",
        StateFilter,
        "entry",
        "is_synthetic",
        "is_pilot",
        "excluded",
        ("trial_list", TrialListFilter),
        ("feedback", admin.EmptyFieldListFilter),
    ]
    search_fields = ["external_id", "prolific_session_id", "mturk_assignment_id", "feedback"]
    list_select_related = ["experiment", "trial_list", "trial_list__experiment"]
    actions = ["exclude_from_analysis", "include_in_analysis", "release_mturk_assignment"]
    readonly_fields = [
        "experiment",
        "external_id",
        "token",
        "study_page",
        "prolific_study_id",
        "prolific_session_id",
        "mturk_assignment_id",
        "mturk_hit_id",
        "entry",
        # It keeps an id others may know to its first browser (participant_enter): a
        # participant who cannot go back there is sent their study page instead.
        "browser_bound",
        "trial_list",
        "trial_order",
        "consented_at",
        "started_at",
        "last_seen_at",
        "completed_at",
        "user_agent",
        "feedback",
        "is_synthetic",
        "is_pilot",
        "status",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_responses=Count("responses"))

    def get_fields(self, request, participant=None):
        """Without the participant's token and study page for staff who may only view
        participants (a helper approving submissions, say): whoever has them can answer, decline
        or comment as the participant, which even the answers' own admin never allows."""
        fields = super().get_fields(request, participant)
        if self.has_change_permission(request, participant):
            return fields
        return [name for name in fields if name not in ("token", "study_page")]

    @admin.display(description="study page")
    def study_page(self, participant):
        """The address of the participant's own pages (after this site's address), to send to
        one who cannot go back to their browser. Not a link: opened here, you would answer
        in their place."""
        return reverse(
            "experiment:home",
            kwargs={"slug": participant.experiment.slug, "token": participant.token},
        )

    @admin.display(description="state")
    def state(self, participant):
        return participant_state(participant=participant).replace("_", " ")

    @admin.display(description="answered", ordering="n_responses")
    def progress(self, participant):
        return f"{participant.n_responses} / {len(participant.trial_order)}"

    @admin.display(description="duration")
    def duration(self, participant):
        end = participant.completed_at or participant.last_seen_at
        minutes = (end - participant.started_at).total_seconds() / 60
        return f"{minutes:.1f} min"

    def has_add_permission(self, request):
        return False  # participants enter through the study link, which assigns their list

    @admin.action(
        description="Let these MTurk workers go on under a new assignment", permissions=["change"]
    )
    def release_mturk_assignment(self, request, participants):
        """For a worker who returned their HIT after consenting and accepted it again: their
        next HIT page's assignment becomes theirs. (Until then any other assignment is refused,
        since worker ids are no secret.)"""
        released = participants_mturk_assignment_release(participants=participants)
        self.message_user(
            request,
            f"Released the MTurk assignment of {released} worker(s) in progress: the next "
            "HIT page each opens gives them its assignment. Check on MTurk that the new "
            "assignment is the worker's before approving it.",
            messages.SUCCESS if released else messages.WARNING,
        )

    @admin.action(description="Exclude from the analysis…", permissions=["change"])
    def exclude_from_analysis(self, request, participants):
        """Asks for the reason on a page of its own, then excludes (participants_exclude)."""
        form = ExclusionForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self.exclusion_page(request, participants, form=form)
        reason = form.cleaned_data["reason"]
        change = participants_exclude(participants=participants, reason=reason)
        done = f"Excluded {change.changed} participant(s) from the analysis, with the reason "
        done += f"“{reason}”."
        if change.unchanged:
            done += (
                f" {change.unchanged} excluded before keep their own reason (change it on a "
                "participant's page)."
            )
        self.exclusion_done(request, done, change)

    @admin.action(description="Include in the analysis again", permissions=["change"])
    def include_in_analysis(self, request, participants):
        """Asks first (the reasons are cleared for good), then includes
        (participants_include)."""
        if "apply" not in request.POST:
            return self.exclusion_page(request, participants, form=None)
        change = participants_include(participants=participants)
        done = f"Included {change.changed} participant(s) in the analysis again; their "
        done += "exclusion reasons are cleared."
        if change.unchanged:
            done += f" {change.unchanged} were not excluded."
        self.exclusion_done(request, done, change)

    def exclusion_done(self, request, done: str, change):
        """Say what an exclusion action did, and which pilot runs it left as they were."""
        if change.pilots:
            done += (
                f" Skipped {change.pilots} pilot run(s): a pilot run is not a participant and "
                "stays excluded with its own reason (delete it once it is of no more use)."
            )
        self.message_user(request, done, messages.SUCCESS if change.changed else messages.WARNING)

    def exclusion_page(self, request, participants, *, form):
        """The page that confirms an exclusion action (with `form`, the reason) or an
        inclusion (`form` None), listing the participants chosen."""
        return action_confirm_page(
            self, request, "admin/experiment/participant/exclusion.html",
            title="Exclude from the analysis" if form else "Include in the analysis again",
            chosen=participants.select_related("experiment").order_by("pk"),
            action="exclude_from_analysis" if form else "include_in_analysis",
            submit_label="Exclude" if form else "Include again", form=form,
        )  # fmt: skip

    def get_deleted_objects(self, objs, request):
        """Each participant with how many answers go with them (deletion_counted)."""
        participants = (
            Participant.objects.filter(pk__in=[p.pk for p in objs])
            .select_related("experiment")
            .annotate(n_answers=count_of(Response, "participant"))
        )
        lines = [f"Participant {p}: {p.n_answers} answers" for p in participants]
        counts = {Participant: len(lines), Response: sum(p.n_answers for p in participants)}
        return deletion_counted(self.admin_site, request, lines, counts)

    def delete_model(self, request, participant):
        self.delete_queryset(request, Participant.objects.filter(pk=participant.pk))

    def delete_queryset(self, request, participants):
        answered = participants.filter(responses__isnull=False).distinct().count()
        participants_withdraw(participants=participants)
        if answered:
            self.message_user(
                request,
                "Ratings reports written before this deletion, and responses and participants "
                "CSV files exported before it, still hold the answers of the "
                f"{answered} deleted participant(s) with answers (and, unless anonymous, their "
                "ids): run analyze_ratings again for each such report folder, delete those CSV "
                "files and export again, and delete any copies made of them. The label cache "
                "(cache/label_agreement.json in the var folder) keeps the words they typed, "
                "without their id: delete it too if those must go (docs/experiment.md, "
                "section 1).",
                messages.WARNING,
            )


@admin.register(Withdrawal)
class WithdrawalAdmin(admin.ModelAdmin):
    """Ids kept out after a withdrawal (as digests); deleting one lets that person in again."""

    list_display = ["experiment", "withdrawn_at"]
    list_filter = ["experiment"]
    readonly_fields = ["experiment", "id_digest", "withdrawn_at"]
    search_fields = ["id_digest"]  # shows the search box; get_search_results does the search
    search_help_text = (
        "An external id (Prolific PID, MTurk worker id, ...) whole, as the participant gave "
        "it; letter case does not matter, except for withdrawals stored before migration "
        "experiment 0010, which need the id as typed then. Only its digest is stored, so part "
        "of an id finds nothing."
    )

    def get_search_results(self, request, withdrawals, search_term):
        """The withdrawals of the external id searched for, found by its digests
        (withdrawal_digests): the table holds no ids to match text against."""
        external_id = search_term.strip()
        if not external_id:
            return withdrawals, False
        if not Withdrawal.objects.exists():  # no key to read (nor to make, on a fresh site)
            return withdrawals.none(), False
        return withdrawals.filter(id_digest__in=withdrawal_digests(external_id)), False

    def has_add_permission(self, request):
        return False  # made when a participant is deleted

    def has_change_permission(self, request, withdrawal=None):
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "participant",
        "trial_index",
        "panel",
        "is_practice",
        "q1_yes",
        "q2_bin",
        "q3_first",
        "q3_second",
        "response_ms",
        "created_at",
    ]
    list_filter = ["participant__experiment", "is_practice", "q1_yes"]
    search_fields = ["participant__external_id", "q3_first", "q3_second"]
    list_select_related = ["participant__experiment", "panel"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # answers are data: they are exported, never edited

    # Nor deleted one by one, which would leave a completed participant with a gap no one can
    # answer again. They go only with their participant (a withdrawal), so the delete
    # permission stays for that cascade and the page's delete paths are closed.
    def get_actions(self, request):
        return {}

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied("Answers are deleted only with their participant.")

    def render_change_form(self, request, context, *args, **kwargs):
        return super().render_change_form(
            request, {**context, "show_delete": False}, *args, **kwargs
        )
