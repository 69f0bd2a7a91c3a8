"""Reads of the experiment app: a participant's trials, the study's progress, the export rows."""

import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from experiment.models import (
    Experiment,
    Panel,
    Participant,
    Response,
    TrialList,
    external_id_key,
)

# A visitor who has not consented (yet, or declined) holds a list place this long at most.
UNCONSENTED_HOLD_MINUTES = 10

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # token_urlsafe's alphabet, the column's size


@dataclass(frozen=True)
class Trial:
    """One position in a participant's trial order."""

    index: int
    panel: Panel
    is_practice: bool
    answered: bool


@dataclass(frozen=True)
class ListProgress:
    """How many participants of one list have completed, are active, or have gone quiet."""

    trial_list: TrialList
    panels: int
    taken: int = 0  # places counted against the cap, as assignment counts them (list_fills)
    completed: int = 0
    in_progress: int = 0
    abandoned: int = 0


@dataclass(frozen=True)
class ExperimentProgress:
    """The study's progress: one row per list and the totals."""

    experiment: Experiment
    lists: list[ListProgress] = field(default_factory=list)
    unassigned: int = 0
    synthetic: int = 0  # simulate_responses' participants: never counted above
    excluded: int = 0  # real participants the researcher excluded: nor these
    pilots: int = 0  # the researchers' pilot runs: nor these
    comments: int = 0  # participants (pilot runs too) who left a comment at the end
    median_minutes: float | None = None  # entry to completion, of those counted as completed
    outside_lists: int = 0  # main panels in no list (imported after the lists were built)

    @property
    def completed(self) -> int:
        return sum(row.completed for row in self.lists)

    @property
    def in_progress(self) -> int:
        return sum(row.in_progress for row in self.lists)

    @property
    def abandoned(self) -> int:
        return sum(row.abandoned for row in self.lists)

    @property
    def capacity(self) -> int:
        return len(self.lists) * self.experiment.participants_per_list

    @property
    def percent_complete(self) -> float:
        """Completed participants as a percentage of all places (0 when there are no lists)."""
        return 100.0 * self.completed / self.capacity if self.capacity else 0.0


class ExperimentNotFound(LookupError):
    """No experiment has the slug a command was given."""


def experiment_by_slug(*, slug: str) -> Experiment:
    """The experiment called `slug`, or ExperimentNotFound naming those that exist. Never
    created here: a typo must not start a new study."""
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        known = ", ".join(Experiment.objects.values_list("slug", flat=True)) or "none yet"
        raise ExperimentNotFound(
            f"No experiment {slug!r} (existing: {known}); create it in the admin first (or "
            "with import_panels --create)"
        )
    return experiment


def participant_by_token(*, experiment: Experiment, token: str) -> Participant | None:
    """The experiment's participant with this token, or None for an unknown or malformed one."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    return Participant.objects.filter(experiment=experiment, token=token).first()


def participant_by_external_id(*, experiment: Experiment, external_id: str) -> Participant | None:
    """The experiment's participant with this external id in any letter case or character
    width (external_id_key), or None."""
    key = external_id_key(external_id)
    return Participant.objects.filter(experiment=experiment, external_key=key).first()


def participant_step(*, participant: Participant) -> str:
    """The name of the page a participant should be on now: consent, trials or complete."""
    if participant.status == Participant.Status.COMPLETED:
        return "complete"
    if participant.consented_at is None:
        return "consent"
    return "trials"


def answered_indices(*, participant: Participant) -> set[int]:
    """Trial indices this participant has answered."""
    return set(participant.responses.values_list("trial_index", flat=True))


def participant_trials(*, participant: Participant) -> list[Trial]:
    """Every trial of the participant in showing order (practice first)."""
    order = participant.trial_order
    panels = Panel.objects.in_bulk(order)
    answered = answered_indices(participant=participant)
    return [
        Trial(index, panels[panel_id], panels[panel_id].is_practice, index in answered)
        for index, panel_id in enumerate(order)
    ]


def hold_minutes(*, experiment: Experiment, consented: bool) -> int:
    """How long a silent participant keeps their list place: the experiment's hold time, or
    UNCONSENTED_HOLD_MINUTES at most for a visitor who has not consented."""
    if consented:
        return experiment.hold_minutes
    return min(experiment.hold_minutes, UNCONSENTED_HOLD_MINUTES)


def participant_state(*, participant: Participant, now=None) -> str:
    """completed, in_progress, or abandoned (marked so, or silent for longer than the hold:
    UNCONSENTED_HOLD_MINUTES at most for a visitor who has not consented)."""
    if participant.status != Participant.Status.IN_PROGRESS:
        return participant.status
    hold = hold_minutes(
        experiment=participant.experiment, consented=participant.consented_at is not None
    )
    cutoff = (now or timezone.now()) - timedelta(minutes=hold)
    return "abandoned" if participant.last_seen_at < cutoff else "in_progress"


def participant_states(*, experiment: Experiment) -> dict[int, str]:
    """Each participant's state as the experiment counts it: completed, in_progress, or
    abandoned (silent past the hold time; the stored status stays in_progress)."""
    participants = experiment.participants.select_related("experiment").only(
        "status", "last_seen_at", "consented_at", "experiment__hold_minutes"
    )
    return {p.pk: participant_state(participant=p) for p in participants}


def experiment_progress(*, experiment: Experiment) -> ExperimentProgress:
    """Per list: completed / in progress / abandoned participants, neither synthetic, pilot
    runs nor excluded (counted apart); totals on the result."""
    now = timezone.now()
    counts: dict[int | None, dict[str, int]] = {}
    real = experiment.participants.filter(is_synthetic=False, is_pilot=False)
    participants = real.filter(excluded=False).select_related("experiment")
    participants = participants.only(
        "status", "last_seen_at", "consented_at", "trial_list_id", "experiment__hold_minutes"
    )
    for participant in participants:
        row = counts.setdefault(participant.trial_list_id, {})
        state = participant_state(participant=participant, now=now)
        row[state] = row.get(state, 0) + 1
    fills = list_fills(experiment=experiment)
    trial_lists = experiment.trial_lists.annotate(panel_count=Count("items"))
    rows = [
        ListProgress(
            trial_list,
            trial_list.panel_count,
            taken=fills.get(trial_list.id, 0),
            **counts.get(trial_list.id, {}),
        )
        for trial_list in trial_lists
    ]
    return ExperimentProgress(
        experiment=experiment,
        lists=rows,
        unassigned=sum(counts.get(None, {}).values()),
        synthetic=experiment.participants.filter(is_synthetic=True).count(),
        excluded=real.filter(excluded=True).count(),
        pilots=experiment.participants.filter(is_pilot=True).count(),
        comments=experiment.participants.exclude(feedback="").count(),
        outside_lists=panels_outside_lists(experiment=experiment),
        median_minutes=median_minutes(
            real.filter(excluded=False, status=Participant.Status.COMPLETED)
        ),
    )


def median_minutes(participants) -> float | None:
    """The median time from entry to completion of completed `participants`, in minutes (what
    a recruitment site's pay per hour is reckoned from); None when nobody has completed."""
    spans = [
        (completed - started).total_seconds() / 60
        for started, completed in participants.values_list("started_at", "completed_at")
        if completed is not None
    ]
    return statistics.median(spans) if spans else None


def active_within_hold(*, experiment: Experiment) -> Q:
    """The experiment's participants in the state "in_progress" (participant_state): in
    progress and seen within the hold time. The others in progress are "abandoned"."""
    now = timezone.now()
    consented = now - timedelta(minutes=hold_minutes(experiment=experiment, consented=True))
    # Visitors who have not consented (yet, or declined) keep a place only briefly, so people
    # who open the link and leave do not make the study look full for the whole hold time.
    unconsented = now - timedelta(minutes=hold_minutes(experiment=experiment, consented=False))
    return Q(experiment=experiment, status=Participant.Status.IN_PROGRESS) & (
        Q(consented_at__isnull=False, last_seen_at__gte=consented)
        | Q(consented_at__isnull=True, last_seen_at__gte=unconsented)
    )


def list_fills(*, experiment: Experiment) -> dict[int, int]:
    """Places taken per list id: completed participants and those active within the hold time.

    A participant who has not consented holds a place for UNCONSENTED_HOLD_MINUTES after their
    last visit, kept while their consent page stays open (participant_consent_reading).

    Synthetic participants (simulate_responses) never take a real participant's place, and
    excluded ones (pilot runs among them) give theirs up, so a replacement fills their list.
    """
    taking = Q(status=Participant.Status.COMPLETED) | active_within_hold(experiment=experiment)
    rows = (
        Participant.objects.filter(
            experiment=experiment, trial_list__isnull=False, is_synthetic=False, excluded=False
        )
        .filter(taking)
        .values("trial_list")
        .annotate(taken=Count("id"))
    )
    return {row["trial_list"]: row["taken"] for row in rows}


def list_returning(*, experiment: Experiment) -> dict[int, int]:
    """Per list id: participants who may come back to it. They answered, then fell silent past
    the hold time, so hold no place (list_fills), but keep their list when they return
    (services.participant_seen). Neither synthetic nor excluded ones count."""
    rows = (
        Participant.objects.filter(
            experiment=experiment,
            status=Participant.Status.IN_PROGRESS,
            trial_list__isnull=False,
            is_synthetic=False,
            excluded=False,
        )
        .exclude(active_within_hold(experiment=experiment))
        .filter(Exists(Response.objects.filter(participant=OuterRef("pk"))))
        .values("trial_list")
        .annotate(returning=Count("id"))
    )
    return {row["trial_list"]: row["returning"] for row in rows}


def participant_completion_url(*, participant: Participant) -> str:
    """Where the completion page sends the participant: the experiment's completion URL, but
    nowhere ("") for an MTurk HIT's worker (they submit the HIT in its own tab), a worker who
    came by a survey link with their worker id (they paste the code into their task; the
    completion URL is Prolific's) or a pilot run."""
    if (
        participant.is_hit_worker
        or participant.entry == Participant.Entry.WORKER_LINK
        or participant.is_pilot
    ):
        return ""
    return participant.experiment.completion_url


def hit_state(*, participant: Participant, assignment_id: str) -> str:
    """What an MTurk HIT page of `assignment_id` offers the participant: "completed" (submit
    it), "done_elsewhere" (they completed under another assignment: return it) or "to_do"."""
    if participant.status != Participant.Status.COMPLETED:
        return "to_do"
    return "completed" if participant.mturk_assignment_id == assignment_id else "done_elsewhere"


def list_least_counted(*, trial_lists: list[TrialList], counts: Mapping[int, int]) -> TrialList:
    """The list with the lowest count (`counts`: list id -> pilot runs, say); the lowest
    number on ties."""
    return min(
        trial_lists, key=lambda trial_list: (counts.get(trial_list.id, 0), trial_list.number)
    )


def lists_with_room(
    *, experiment: Experiment, trial_lists: list[TrialList], fills: dict[int, int]
) -> list[TrialList]:
    """Those of `trial_lists` with fewer places taken (`fills`, see list_fills) than the cap."""
    return [
        trial_list
        for trial_list in trial_lists
        if fills.get(trial_list.id, 0) < experiment.participants_per_list
    ]


def experiment_join_refusal(*, experiment: Experiment) -> str:
    """Why a new MTurk worker could not join now: "prolific_only", "closed", "no_lists" or
    "full" (the reasons of services.StudyUnavailable), or "" when one could. For pages that
    only tell (an MTurk HIT's preview); arrival itself decides under a lock."""
    if experiment.recruitment == Experiment.Recruitment.PROLIFIC:
        return experiment.recruitment_refusal
    if not experiment.is_open:
        return "closed"
    trial_lists = list(TrialList.objects.filter(experiment=experiment))
    if not trial_lists:
        return "no_lists"
    fills = list_fills(experiment=experiment)
    room = lists_with_room(experiment=experiment, trial_lists=trial_lists, fills=fills)
    return "" if room else "full"


def panels_outside_lists(*, experiment: Experiment) -> int:
    """Main panels in no list of an experiment that has lists: they would never be shown."""
    if not experiment.trial_lists.exists():
        return 0
    return experiment.panels.filter(is_practice=False, list_item__isnull=True).count()


def lists_outdated_message(*, experiment: Experiment) -> str:
    """A warning for the import commands when new main panels are in no list, else ""."""
    outside = panels_outside_lists(experiment=experiment)
    if not outside:
        return ""
    return (
        f"Note: {outside} main panels of {experiment.slug} are in no list and would never be "
        "shown; build the lists again (build_lists, or the admin action) before participants "
        "arrive."
    )


def example_candidates(*, experiment_id: int):
    """The practice panels the instructions may show as their example: "yes" panels with a
    label (the example screen shows the label as the answer to Q3), in id order."""
    return (
        Panel.objects.filter(
            experiment_id=experiment_id, is_practice=True, intended_answer=Panel.Answer.YES
        )
        .exclude(intended_label="")
        .order_by("id")
    )


def example_panel(*, participant: Participant) -> Panel | None:
    """The instructions' example: a labelled "yes" practice panel, preferably one this
    participant will not rate (showing one of their own would give its answer away)."""
    yes = example_candidates(experiment_id=participant.experiment_id)
    own = set(participant.trial_order)
    return yes.exclude(id__in=own).first() or yes.filter(id__in=own).first()


def experiment_trials_most(*, experiment: Experiment) -> int:
    """The most trials a new participant gets: the practice trials (as many as there are
    practice panels, at most) and the longest list. For a time estimate before they enter."""
    practice = experiment.panels.filter(is_practice=True).count()
    longest = (
        experiment.trial_lists.annotate(size=Count("items")).aggregate(most=Max("size"))["most"]
        or 0
    )
    return min(practice, experiment.practice_trials) + longest


def experiment_problems(*, experiment: Experiment) -> list[str]:
    """What would make the study run otherwise than its researcher expects, in words."""
    problems = []
    practice = experiment.panels.filter(is_practice=True).count()
    if practice < experiment.practice_trials:
        problems.append(
            f"Participants get {practice} practice trials, not the {experiment.practice_trials} "
            "set: import practice panels (import_panels --practice)."
        )
    if practice and not example_candidates(experiment_id=experiment.id).exists():
        problems.append(
            'No "yes" practice panel has a label, so the instructions\' example screen shows no '
            "panel: give one a label in the admin (panels) or import one named like yes_dog.png."
        )
    elif practice and practice <= experiment.practice_trials:
        problems.append(
            "Every practice panel is a practice trial of every participant, so the "
            "instructions' example is one of their own practice panels and gives its answer "
            "away: import at least one more practice panel than the practice trials."
        )
    if not experiment.trial_lists.exists():
        problems.append("There are no lists yet: new participants are told the study is not ready.")
    if not experiment.completion_url and experiment.recruitment != Experiment.Recruitment.MTURK:
        problems.append(
            "There is no completion URL: participants see the completion code but are not sent "
            "back to the recruitment site (Prolific's needs one; MTurk HITs do not)."
        )
    if not experiment.consent_text.strip():
        problems.append(
            "The consent page shows the default text, which names no researcher and no way to "
            "reach one (ethics boards usually require both): write your own consent text "
            "(admin, the experiment)."
        )
    if experiment.title == experiment.slug:
        problems.append(
            f"The title is the slug ({experiment.slug}), and participants see it on every "
            "page: give the study a title (admin, the experiment)."
        )
    if not experiment.is_open:
        problems.append("The study is closed: only participants already in can go on.")
    return problems
