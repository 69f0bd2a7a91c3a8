"""State changes of the experiment app: panels, lists, participants and their answers.

The participant-facing views call only these functions and the ones in selectors.py.
"""

import random
import secrets
import uuid
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiment import lists as list_building
from experiment.answers import (
    Answer,
    AnswerConflict,
    AnswerInvalid,
    answer_parse,
    response_ms_parse,
)
from experiment.models import Experiment, Panel, Participant, Response, TrialList, TrialListItem
from experiment.panel_images import PanelImageError, panel_display_bytes, panel_image_open
from experiment.selectors import answered_indices, list_fills, participant_state

__all__ = [
    "AnswerInvalid",
    "ListsBuildRefused",
    "PanelImageError",
    "StudyUnavailable",
    "experiment_lists_build",
    "panel_display_bytes",
    "panel_image_open",
    "panel_register",
    "participant_consent",
    "participant_enter",
    "response_record",
]

EXTERNAL_ID_MAX_CHARS = 200  # Participant.external_id's column


class PanelRefused(ValueError):
    """A main panel cannot be added: participants have started, so the lists are fixed."""


def experiment_create(*, slug: str, title: str = "") -> Experiment:
    """The experiment of `slug`, created if missing; ValidationError for a slug URLs cannot hold."""
    validate_slug(slug)
    experiment, _ = Experiment.objects.get_or_create(slug=slug, defaults={"title": title or slug})
    return experiment


def panel_register(
    *,
    experiment: Experiment,
    image_path: Path,
    source: str,
    network: str = "",
    layer: str = "",
    unit: int | None = None,
    is_practice: bool = False,
    intended_answer: str = "",
    intended_label: str = "",
    metadata: dict | None = None,
) -> Panel | None:
    """Store an image file as a panel of the experiment; None when `source` is already imported.

    The full-resolution file is kept as it is (for zooming) and a display version is made.
    Raises PanelImageError when the file is not a readable image; nothing is stored then.
    """
    if Panel.objects.filter(experiment=experiment, source=source).exists():
        return None
    if not is_practice and experiment.participants.filter(is_synthetic=False).exists():
        raise PanelRefused(
            f"Experiment {experiment.slug} has participants, so its lists are fixed and a new "
            f"main panel ({source}) would never be shown; make a new experiment for it."
        )
    image_path = Path(image_path)
    image, suffix = panel_image_open(image_path)
    panel = Panel(
        experiment=experiment,
        source=source,
        network=network,
        layer=layer,
        unit=unit,
        is_practice=is_practice,
        intended_answer=intended_answer,
        intended_label=intended_label,
        metadata=metadata or {},
    )
    # Random names: a file name must not tell participants a practice answer or a unit.
    stem = uuid.uuid4().hex
    try:
        panel.image.save(f"{stem}{suffix}", ContentFile(image_path.read_bytes()), save=False)
        panel.display_image.save(f"{stem}.jpg", ContentFile(panel_display_bytes(image)), save=False)
        with transaction.atomic():
            panel.save()
    except Exception:
        # No file without its row: delete what was written (an empty field deletes nothing).
        panel.image.delete(save=False)
        panel.display_image.delete(save=False)
        raise
    return panel


class StudyUnavailable(Exception):
    """No new participant can join; `.reason` is "closed", "no_lists" or "full".

    `.returning` is true for a participant who came back after their place lapsed, before
    answering anything, and found every list full.
    """

    MESSAGES = {
        "closed": "This study is closed and does not accept new participants.",
        "no_lists": "This study is not ready yet: its researcher has not built the trial lists.",
        "full": "This study is full: every place has been taken. Thank you for your interest.",
    }

    def __init__(self, reason: str, *, returning: bool = False):
        self.reason, self.returning = reason, returning
        self.message = self.MESSAGES[reason]
        super().__init__(self.message)


class ListsBuildRefused(ValueError):
    """Lists cannot be (re)built: bad list count, no main panels, or participants have started."""


def participant_enter(
    *,
    experiment: Experiment,
    external_id: str,
    prolific_study_id: str = "",
    prolific_session_id: str = "",
    user_agent: str = "",
) -> Participant:
    """Return the participant of `external_id`, or assign a new one to the least-filled list.

    A returning participant in progress counts as seen now (their place is held again).
    A new participant's trial order (practice panels first, then their list, each shuffled) is
    stored. Raises AnswerInvalid for an empty or overlong id and StudyUnavailable when the study
    is closed, has no lists or is full; nothing is created then.
    """
    external_id = external_id_clean(external_id)
    prolific_study_id = without_nul(prolific_study_id)[:200]
    prolific_session_id = without_nul(prolific_session_id)[:200]
    existing = Participant.objects.filter(experiment=experiment, external_id=external_id).first()
    if existing is not None:
        if existing.is_synthetic:
            raise AnswerInvalid(
                "This id belongs to a simulated participant of the study; use your own id."
            )
        participant_seen(participant=existing)
        participant_session_update(
            participant=existing,
            prolific_study_id=prolific_study_id,
            prolific_session_id=prolific_session_id,
        )
        return existing
    try:
        with transaction.atomic():
            return participant_create(
                experiment=experiment,
                external_id=external_id,
                prolific_study_id=prolific_study_id,
                prolific_session_id=prolific_session_id,
                user_agent=without_nul(user_agent)[:500],
            )
    except IntegrityError:
        # The same id arrived twice at once on a database without row locks: one of them won.
        return Participant.objects.get(experiment=experiment, external_id=external_id)


def participant_seen(*, participant: Participant) -> None:
    """A returning participant still in progress keeps (or takes back) their place in the list.

    One whose place lapsed before they answered anything is placed again like a new arrival
    (see participant_place_retake); one who has answered keeps their list, which may then hold
    one more than its cap.
    """
    if participant.status != Participant.Status.IN_PROGRESS:
        return
    lapsed = participant_state(participant=participant) == "abandoned"
    if lapsed and not participant.responses.exists():
        participant_place_retake(participant=participant)
        return
    participant.last_seen_at = timezone.now()
    Participant.objects.filter(id=participant.id).update(last_seen_at=participant.last_seen_at)


def participant_place_retake(*, participant: Participant) -> None:
    """Give a participant whose place lapsed before any answer a place again, and mark them
    seen, in one locked transaction (an arrival in between would take the same place).

    They keep their list when it has room, else move to the least-filled list with a new trial
    order; StudyUnavailable("full") when every list is full.
    """
    with transaction.atomic():
        experiment, trial_lists = experiment_lists_locked(experiment=participant.experiment)
        current = Participant.objects.select_for_update().get(id=participant.id)
        current.experiment = experiment
        taken = list_fills(experiment=experiment).get(current.trial_list_id, 0)
        # Another request of theirs may have taken the place back meanwhile (then it counts).
        lapsed = participant_state(participant=current) == "abandoned"
        if lapsed and taken >= experiment.participants_per_list:
            try:
                trial_list = least_filled_list(experiment=experiment, trial_lists=trial_lists)
            except StudyUnavailable as full:
                raise StudyUnavailable(full.reason, returning=True) from None
            current.trial_list = trial_list
            current.trial_order = trial_order_new(experiment=experiment, trial_list=trial_list)
        current.last_seen_at = timezone.now()
        current.save(update_fields=["trial_list", "trial_order", "last_seen_at"])
    participant.refresh_from_db(fields=["trial_list", "trial_order", "last_seen_at"])


def experiment_lists_locked(*, experiment: Experiment) -> tuple[Experiment, list[TrialList]]:
    """The experiment and its lists, locked in that order (as list building locks them) until
    the transaction ends: assignments are then made one after another."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    trial_lists = list(
        TrialList.objects.select_for_update().filter(experiment=experiment).order_by("number")
    )
    return experiment, trial_lists


def participant_session_update(
    *, participant: Participant, prolific_study_id: str, prolific_session_id: str
) -> None:
    """Keep the latest Prolific study and session ids a returning participant came with.

    Prolific gives a new SESSION_ID when someone returns a study and takes it again; the
    submission to approve is the latest one. Once they completed, the ids stay those of the
    submission they completed under: anyone who knows their id could open the link again.
    """
    if participant.status == Participant.Status.COMPLETED:
        return
    new = {
        name: value
        for name, value in (
            ("prolific_study_id", prolific_study_id),
            ("prolific_session_id", prolific_session_id),
        )
        if value and value != getattr(participant, name)
    }
    if new:
        Participant.objects.filter(id=participant.id).update(**new)
        for name, value in new.items():
            setattr(participant, name, value)


def external_id_clean(external_id: object) -> str:
    """An external id is non-empty text of at most EXTERNAL_ID_MAX_CHARS characters."""
    if not isinstance(external_id, str) or not external_id.strip():
        raise AnswerInvalid("A participant id is required (e.g. PROLIFIC_PID in the link).")
    if "\x00" in external_id:
        raise AnswerInvalid("The participant id contains a NUL character.")
    if "{{%" in external_id or "%}}" in external_id:
        raise AnswerInvalid(
            f"The study link holds the placeholder {external_id.strip()!r} instead of an id: "
            "open the study from Prolific, which fills it in."
        )
    if len(external_id.strip()) > EXTERNAL_ID_MAX_CHARS:
        raise AnswerInvalid(
            f"The participant id is longer than {EXTERNAL_ID_MAX_CHARS} characters."
        )
    return external_id.strip()


def without_nul(text: str) -> str:
    """Text as PostgreSQL can store it (it refuses NUL characters); for incidental fields."""
    return text.replace("\x00", "")


def participant_create(*, experiment: Experiment, external_id: str, **fields) -> Participant:
    """Assign a list under a lock on the experiment's lists; call inside transaction.atomic().

    The experiment row is locked first, as list (re)building does, so an arrival never sees
    lists being replaced.
    """
    experiment, trial_lists = experiment_lists_locked(experiment=experiment)
    if not experiment.is_open:
        raise StudyUnavailable("closed")
    if not trial_lists:
        raise StudyUnavailable("no_lists")
    # Another request may have created this id while we waited for the lock.
    existing = Participant.objects.filter(experiment=experiment, external_id=external_id).first()
    if existing is not None:
        return existing
    trial_list = least_filled_list(experiment=experiment, trial_lists=trial_lists)
    return Participant.objects.create(
        experiment=experiment,
        external_id=external_id,
        trial_list=trial_list,
        trial_order=trial_order_new(experiment=experiment, trial_list=trial_list),
        **fields,
    )


def least_filled_list(*, experiment: Experiment, trial_lists: list[TrialList]) -> TrialList:
    """The list with the fewest places taken (lowest number on ties), or StudyUnavailable."""
    fills = list_fills(experiment=experiment)
    open_lists = [
        trial_list
        for trial_list in trial_lists
        if fills.get(trial_list.id, 0) < experiment.participants_per_list
    ]
    if not open_lists:
        raise StudyUnavailable("full")
    return min(open_lists, key=lambda trial_list: (fills.get(trial_list.id, 0), trial_list.number))


def trial_order_new(
    *, experiment: Experiment, trial_list: TrialList, rng: random.Random | None = None
) -> list[int]:
    """Panel ids in showing order: `practice_trials` practice panels drawn at random first,
    then the list, shuffled. `rng`: seeded by simulations, else drawn from the system."""
    rng = rng or random.Random(secrets.randbits(64))
    practice = list(
        Panel.objects.filter(experiment=experiment, is_practice=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    practice = rng.sample(practice, min(experiment.practice_trials, len(practice)))
    main = list(trial_list.items.order_by("panel_id").values_list("panel_id", flat=True))
    rng.shuffle(main)
    return practice + main


def participant_consent(*, participant: Participant) -> None:
    """Record that the participant gave consent (the first time only).

    A visitor whose place lapsed while they read the consent text is placed again first
    (StudyUnavailable("full") when no list has room).
    """
    participant_seen(participant=participant)
    with transaction.atomic():
        now = timezone.now()
        Participant.objects.filter(id=participant.id, consented_at__isnull=True).update(
            consented_at=now, last_seen_at=now
        )
        participant.refresh_from_db(fields=["consented_at", "last_seen_at"])


def response_record(
    *,
    participant: Participant,
    trial_index: int,
    panel_id: int,
    q1: str,
    q2: int | None,
    q3: str,
    response_ms: int,
) -> Response:
    """Store the answer to one trial; re-sending an answered trial returns the stored Response.

    Raises AnswerInvalid, changing nothing, when the answer breaks the protocol, the panel is not
    at `trial_index` of this participant's order, an earlier trial is unanswered, consent is
    missing or the participant is done; AnswerConflict when the trial was answered otherwise
    (a second window). The participant is marked completed when this answers their last trial.
    """
    answer = answer_parse(q1=q1, q2=q2, q3=q3)
    response_ms = response_ms_parse(response_ms)
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(id=participant.id)
        trial_check(participant=locked, trial_index=trial_index, panel_id=panel_id)
        answered = answered_indices(participant=locked)
        if trial_index in answered:
            stored = Response.objects.get(participant=locked, trial_index=trial_index)
            if answer != answer_of(stored):  # a retry after a lost reply sends the same answer
                raise AnswerConflict(
                    "This panel was already answered, perhaps in another window; the first "
                    "answer is kept. Reload the page to go on where you are."
                )
            return stored
        if locked.status == Participant.Status.COMPLETED:
            raise AnswerInvalid("This participant has already completed the study.")
        first_open = min(set(range(len(locked.trial_order))) - answered)
        if trial_index != first_open:
            raise AnswerInvalid(
                f"Panel {first_open + 1} comes before panel {trial_index + 1}; reload the page "
                "to go on where you are."
            )
        response = Response.objects.create(
            participant=locked,
            panel_id=panel_id,
            trial_index=trial_index,
            is_practice=Panel.objects.filter(id=panel_id, is_practice=True).exists(),
            q1_yes=answer.q1_yes,
            q2_bin=answer.q2_bin,
            q3_first=answer.q3_first,
            q3_second=answer.q3_second,
            response_ms=response_ms,
        )
        participant_touch(participant=locked)
    participant.refresh_from_db()
    return response


def answer_of(response: Response) -> Answer:
    """A stored response's answer, as answer_parse gives it."""
    return Answer(response.q1_yes, response.q2_bin, response.q3_first, response.q3_second)


def trial_check(*, participant: Participant, trial_index: object, panel_id: object) -> None:
    """The answer must be for the panel at `trial_index` of a consenting participant's order."""
    if participant.consented_at is None:
        raise AnswerInvalid("Consent is required before answering.")
    order = participant.trial_order
    if isinstance(trial_index, bool) or not isinstance(trial_index, int):
        raise AnswerInvalid("trial_index must be a whole number.")
    if not 0 <= trial_index < len(order):
        raise AnswerInvalid(f"There is no trial {trial_index}; this study has {len(order)}.")
    if (
        isinstance(panel_id, bool)
        or not isinstance(panel_id, int)
        or order[trial_index] != panel_id
    ):
        raise AnswerInvalid(f"Panel {panel_id} is not shown at trial {trial_index}.")


def participant_touch(*, participant: Participant) -> None:
    """Update last_seen_at; mark the participant completed once every trial is answered."""
    now = timezone.now()
    participant.last_seen_at = now
    fields = ["last_seen_at"]
    if participant.responses.count() >= len(participant.trial_order):
        participant.status = Participant.Status.COMPLETED
        participant.completed_at = now
        fields += ["status", "completed_at"]
    participant.save(update_fields=fields)


def experiment_lists_build(
    *, experiment: Experiment, lists: int, seed: int | None = None
) -> list[TrialList]:
    """Replace the experiment's lists with `lists` stratified ones (deterministic for a seed).

    Every main panel goes in exactly one list; each list gets an equal share (within one) of
    every (network, layer). Raises ListsBuildRefused once any participant exists.
    """
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not 0 <= seed < 2**63:
        raise ListsBuildRefused(f"The seed must be between 0 and {2**63 - 1}, not {seed}.")
    with transaction.atomic():
        Experiment.objects.select_for_update().get(id=experiment.id)
        participants = Participant.objects.filter(experiment=experiment)
        if participants.filter(is_synthetic=False).exists():
            raise ListsBuildRefused(
                f"Experiment {experiment.slug} already has participants; rebuilding its lists "
                "would change what they were shown. Delete the participants first or make a new "
                "experiment."
            )
        if participants.exists():
            raise ListsBuildRefused(
                f"Experiment {experiment.slug} has simulated participants, whose answers refer "
                f"to the lists; remove them first (simulate_responses --experiment "
                f"{experiment.slug} --delete)."
            )
        panels = Panel.objects.filter(experiment=experiment, is_practice=False)
        strata = [(p.id, (p.network, p.layer)) for p in panels.only("id", "network", "layer")]
        try:
            assignment = list_building.stratified_lists(strata, lists=lists, seed=seed)
        except ValueError as error:
            raise ListsBuildRefused(f"Experiment {experiment.slug}: {error}") from error
        return trial_lists_store(experiment=experiment, assignment=assignment, seed=seed)


def trial_lists_store(
    *, experiment: Experiment, assignment: list[list[int]], seed: int
) -> list[TrialList]:
    """Delete the old lists and store the new ones with their items."""
    TrialList.objects.filter(experiment=experiment).delete()
    trial_lists = TrialList.objects.bulk_create(
        TrialList(experiment=experiment, number=number, seed=seed)
        for number in range(1, len(assignment) + 1)
    )
    TrialListItem.objects.bulk_create(
        TrialListItem(trial_list=trial_list, panel_id=panel_id)
        for trial_list, panel_ids in zip(trial_lists, assignment, strict=True)
        for panel_id in panel_ids
    )
    return trial_lists
