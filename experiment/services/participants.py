"""Participants arriving, coming back and consenting: their list place and trial order."""

import random
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from experiment.answers import AnswerInvalid, ParticipantGone
from experiment.export import external_id_digest, key_fingerprint, pseudonym_key
from experiment.models import (
    VISIT_ID_FIELDS,
    Experiment,
    Panel,
    Participant,
    TrialList,
    Withdrawal,
    external_id_key,
)
from experiment.selectors import (
    example_candidates,
    hold_minutes,
    list_fills,
    list_least_counted,
    list_returning,
    lists_with_room,
    participant_by_external_id,
    participant_state,
)

EXTERNAL_ID_MAX_CHARS = 200  # Participant.external_id's column


class StudyUnavailable(Exception):
    """No new participant can join; `.reason` is "closed", "no_lists", "full", "withdrawn"
    (this id was withdrawn, participants_withdraw), or "prolific_only" / "mturk_only" (they
    came another way than the experiment's recruitment lets new participants take).

    `.returning` is true for a participant who came back after their place lapsed, before
    answering anything, and found every list full.
    """

    MESSAGES = {
        "closed": "This study is closed and does not accept new participants.",
        "no_lists": "This study is not ready yet: its researcher has not built the trial lists.",
        "full": "This study is full: every place has been taken. Thank you for your interest.",
        "withdrawn": "You have withdrawn from this study, so you cannot take part again.",
        "prolific_only": "This study takes new participants from Prolific only, through the "
        "link on its Prolific page.",
        "mturk_only": "This study takes new participants through its HIT on Amazon Mechanical "
        "Turk only.",
    }

    def __init__(self, reason: str, *, returning: bool = False):
        self.reason, self.returning = reason, returning
        self.message = self.MESSAGES[reason]
        super().__init__(self.message)


def participant_enter(
    *,
    experiment: Experiment,
    external_id: str,
    user_agent: str = "",
    prolific_study_id: str = "",
    prolific_session_id: str = "",
    mturk_assignment_id: str = "",
    mturk_hit_id: str = "",
    entry: str = "",
    browser_tokens: Sequence[str] | None = None,
) -> Participant:
    """Return the participant of `external_id`, or assign a new one to the least-filled list.

    The recruitment site's ids of this visit (Prolific's study and session, MTurk's assignment
    and HIT; empty ones and Prolific's placeholders are ignored) are stored, see
    participant_visit_ids_update. A new participant's `entry` (Participant.Entry: how they
    came in) is stored.
    A returning participant in progress counts as seen now (their place is held again).
    `browser_tokens` are the tokens of the participants this browser entered the study link as
    (a cookie; None where no browser is involved): a returning
    participant whose id may be known to others (Participant.id_is_public) is let in only from
    that browser (once bound to one: participants from before are bound on their next visit).
    A new participant's trial order (practice panels first, then their list, each shuffled) is
    stored. Raises AnswerInvalid for an empty or overlong id and StudyUnavailable when the study
    is closed, has no lists or is full, the id was withdrawn, or a new participant came another
    way than the experiment's recruitment allows; nothing is created then.
    """
    external_id = external_id_clean(external_id)
    given = (prolific_study_id, prolific_session_id, mturk_assignment_id, mturk_hit_id)
    visit_ids = {
        name: without_nul(value)[: Participant._meta.get_field(name).max_length]
        for name, value in zip(VISIT_ID_FIELDS, given, strict=True)
        if value and not is_placeholder(value)
    }
    existing = participant_by_external_id(experiment=experiment, external_id=external_id)
    if existing is not None:
        if existing.is_synthetic or existing.is_pilot:
            kind = "a simulated participant" if existing.is_synthetic else "a pilot run"
            raise AnswerInvalid(f"This id belongs to {kind} of the study; use your own id.")
        visit_refusal_raise(
            participant=existing, visit_ids=visit_ids, browser_tokens=browser_tokens
        )
        if browser_tokens is not None and not existing.browser_bound:  # entered before binding
            Participant.objects.filter(id=existing.id).update(browser_bound=True)
            existing.browser_bound = True
        participant_seen(participant=existing)
        participant_visit_ids_update(participant=existing, visit_ids=visit_ids)
        return existing
    # Read the key only where someone withdrew (it may be made on first use, in VAR_DIR).
    if (
        experiment.withdrawals.exists()
        and experiment.withdrawals.filter(id_digest__in=withdrawal_digests(external_id)).exists()
    ):
        raise StudyUnavailable("withdrawn")  # said whichever way they came back
    recruitment_refusal_raise(
        experiment=experiment, external_id=external_id, entry=entry, visit_ids=visit_ids
    )
    try:
        with transaction.atomic():
            return participant_create(
                experiment=experiment,
                external_id=external_id,
                user_agent=without_nul(user_agent)[:500],
                entry=entry,
                browser_bound=browser_tokens is not None,
                **visit_ids,
            )
    except IntegrityError:
        # The same id arrived twice at once on a database without row locks: one of them won.
        return participant_by_external_id(experiment=experiment, external_id=external_id)


@transaction.atomic
def participants_withdraw(*, participants: Iterable[Participant]) -> None:
    """Delete participants with their answers at their request. One who consented (a real
    participant, not a pilot run or a simulated one) is kept out of the study from then on:
    their id's digest is stored (Withdrawal), not the id, and the admin's log no longer names
    them by it. A few queries however many."""
    # Their experiments are locked first, as arrivals and returns lock them before a
    # participant (participant_place_retake): the Withdrawal rows need them at the commit, so
    # the other order could deadlock with someone coming back now. Then the participants, as
    # an answer locks its participant: one being stored now is then either in before the
    # delete (and deleted with them) or refused after it (ParticipantGone).
    ids = [p.pk for p in participants]
    experiments = Participant.objects.filter(pk__in=ids).values("experiment_id")
    list(Experiment.objects.select_for_update().filter(pk__in=experiments).order_by("pk"))
    participants = list(Participant.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    kept_out = [p for p in participants if p.consented_at and not (p.is_pilot or p.is_synthetic)]
    secret = pseudonym_key() if kept_out else b""
    withdrawn = [
        Withdrawal(
            experiment_id=p.experiment_id,
            id_digest=withdrawal_digests(p.external_id, secret=secret)[0],
            key_check=key_fingerprint(secret),
        )
        for p in kept_out
    ]
    Withdrawal.objects.bulk_create(withdrawn, ignore_conflicts=True)  # withdrawn before, say
    Participant.objects.filter(pk__in=ids).delete()
    # The admin's log names what it changed or deleted as str(participant), which holds the id.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Participant),
        object_id__in=[str(pk) for pk in ids],
    ).update(
        object_repr=Concat(
            Value("participant "), "object_id", Value(" (deleted)"), output_field=CharField()
        )
    )


def withdrawal_digests(external_id: str, *, secret: bytes | None = None) -> list[str]:
    """The digests (Withdrawal) that keep `external_id` out: the one stored now, of the id's
    key (any letter case or width of it is the same participant, external_id_key), then the
    one of the id as typed, stored before that. `secret`: pseudonym_key(), if read already."""
    secret = secret or pseudonym_key()
    return [
        external_id_digest(external_id_key(external_id), key=secret),
        external_id_digest(external_id, key=secret),
    ]


def participant_decline(*, participant: Participant) -> None:
    """Someone who declined consent is deleted with the ids they came with: nothing about
    them is kept, and their place is free. (Only before consent and any answer: afterwards a
    participant leaves by withdrawal, participants_withdraw.)"""
    Participant.objects.filter(
        id=participant.id, consented_at__isnull=True, responses__isnull=True
    ).delete()


def participant_consent_reading(*, participant: Participant) -> bool:
    """A visitor still reading the consent page keeps their place: the page says so every few
    minutes (consent.js), as UNCONSENTED_HOLD_MINUTES would otherwise give it away while a slow
    reader reads. For the experiment's hold time from arrival at most, so a page left open does
    not hold a place for good. False, and nothing changed, once the place has lapsed (it may be
    someone else's now: consent places them again), the time is up, or they consented or left
    meanwhile. One update checks all of it, so an arrival cannot take the place in between."""
    experiment = participant.experiment
    now = timezone.now()
    held = timedelta(minutes=hold_minutes(experiment=experiment, consented=False))
    kept = Participant.objects.filter(
        id=participant.id,
        status=Participant.Status.IN_PROGRESS,
        consented_at__isnull=True,
        last_seen_at__gte=now - held,
        started_at__gt=now - timedelta(minutes=experiment.hold_minutes),
    ).update(last_seen_at=now)
    return kept == 1


def participant_seen(*, participant: Participant) -> None:
    """A returning participant still in progress keeps (or takes back) their place in the list.

    One whose place lapsed before they answered anything is placed again like a new arrival
    (see participant_place_retake); one who has answered keeps their list, which may then hold
    one more than its cap; an excluded one keeps their list.
    """
    if participant.status != Participant.Status.IN_PROGRESS:
        return
    lapsed = participant_state(participant=participant) == "abandoned"
    # An excluded participant (a pilot run, say) holds no place, so has none to take back.
    if lapsed and not participant.excluded and not participant.responses.exists():
        participant_place_retake(participant=participant)
        return
    participant.last_seen_at = timezone.now()
    Participant.objects.filter(id=participant.id).update(last_seen_at=participant.last_seen_at)


def participant_place_retake(*, participant: Participant) -> None:
    """Give a participant whose place lapsed before any answer a place again, and mark them
    seen, in one locked transaction (an arrival in between would take the same place).

    They keep their list when it has room, else move to the least-filled list with a new trial
    order; StudyUnavailable("full") when every list is full; ParticipantGone when they were
    deleted meanwhile.
    """
    with transaction.atomic():
        experiment, trial_lists = experiment_lists_locked(experiment=participant.experiment)
        current = Participant.objects.select_for_update().filter(id=participant.id).first()
        if current is None:  # withdrawn while this request waited for the lock
            raise ParticipantGone("This participant link is not valid.")
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


def visit_refusal_raise(
    *,
    participant: Participant,
    visit_ids: dict[str, str],
    browser_tokens: Sequence[str] | None = None,
) -> None:
    """AnswerInvalid for a returning participant's visit that must not go on: one through the
    other recruitment site (or way in) than they entered by, one by the study link (with or
    without Prolific's ids) of someone who entered through an MTurk HIT, one by the study link
    from another browser than theirs where their id may be known to others (`browser_tokens`,
    see participant_enter), another Prolific study once they completed, or an MTurk
    assignment other than theirs once they have consented.

    An id is no secret (MTurk shows worker ids to every requester): whoever knows one could
    otherwise open the study link with it, or accept the HIT themselves, and take over
    someone's place, answers and payment, or turn a Prolific participant into an MTurk one,
    who is then not sent back to Prolific. A HIT's worker goes on from the HIT page, which
    links to their own study page.
    """
    mturk_visit = bool(visit_ids.get("mturk_assignment_id"))
    if mturk_visit and (participant.prolific_session_id or participant.prolific_study_id):
        raise AnswerInvalid(
            "This id took part in the study through Prolific, not MTurk: go on from Prolific."
        )
    if (
        mturk_visit
        and participant.status == Participant.Status.IN_PROGRESS
        and not (participant.is_hit_worker or participant.mturk_hit_id)  # (entry "": older)
    ):
        raise AnswerInvalid(
            "This id takes part in the study through its study link, not an MTurk HIT: go on "
            "from the link you started with, and return this HIT."
        )
    if (
        not mturk_visit
        and browser_tokens is not None
        and participant.browser_bound
        and participant.token not in browser_tokens
        and participant.id_is_public
    ):
        raise AnswerInvalid(OTHER_BROWSER_MESSAGE)
    if not mturk_visit and participant.is_hit_worker:
        raise AnswerInvalid(
            "This id takes part in the study through an MTurk HIT: go on from that HIT (MTurk "
            "lists it under the HITs assigned to you), not from the study link."
        )
    study = visit_ids.get("prolific_study_id")
    if (
        participant.status == Participant.Status.COMPLETED
        and study
        and participant.prolific_study_id not in ("", study)
    ):
        # A second Prolific study of the same experiment: the answers were made for the first,
        # and showing the completion code again would have them paid twice.
        raise AnswerInvalid(
            "You have already taken part in this study, through another Prolific study, so "
            "you cannot take part again: please return this one on Prolific."
        )
    if (
        mturk_visit
        and participant.status == Participant.Status.IN_PROGRESS
        and participant.consented_at is not None
        and participant.mturk_assignment_id not in ("", visit_ids["mturk_assignment_id"])
    ):
        raise AnswerInvalid(ASSIGNMENT_TAKEN_MESSAGE.format(worker=participant.external_id))


def recruitment_refusal_raise(
    *, experiment: Experiment, external_id: str, entry: str, visit_ids: dict[str, str]
) -> None:
    """StudyUnavailable for a new participant who came another way than the experiment's
    recruitment lets them (Experiment.Recruitment). A Prolific link carries a Prolific ID
    (PROLIFIC_PID_PATTERN) and the study's and session's ids, as Prolific fills them in; an id
    in that form can still be made up (only Prolific can tell), but it then has no submission
    to approve."""
    if experiment.recruitment == Experiment.Recruitment.PROLIFIC:
        allowed = (
            entry == Participant.Entry.PROLIFIC
            and PROLIFIC_PID_PATTERN.fullmatch(external_id)
            and visit_ids.get("prolific_study_id")
            and visit_ids.get("prolific_session_id")
        )
    else:
        mturk_only = experiment.recruitment == Experiment.Recruitment.MTURK
        allowed = not mturk_only or entry == Participant.Entry.MTURK_HIT
    if not allowed:
        raise StudyUnavailable(experiment.recruitment_refusal)


PROLIFIC_PID_PATTERN = re.compile(r"[0-9a-f]{24}", re.IGNORECASE)  # a MongoDB ObjectId
OTHER_BROWSER_MESSAGE = (
    "This id has already started the study in another browser. Please go on there: the same "
    "link opens your study in that browser. If you cannot, write to the researcher, giving "
    "this id: they can send you the address of your study page."
)
ASSIGNMENT_TAKEN_MESSAGE = (
    "Worker {worker} has already started this study under another assignment of this HIT. "
    "Go on there (MTurk lists it under the HITs assigned to you). If you returned it, "
    "return this one too and write to the researcher, giving your worker id: they can let "
    "you go on under a new assignment."
)


def participant_visit_ids_update(*, participant: Participant, visit_ids: dict[str, str]) -> None:
    """Keep the latest recruitment-site ids a returning participant came with.

    Prolific gives a new SESSION_ID, and MTurk a new assignment id, when someone returns a
    study and takes it again; the submission to approve is the latest one. An MTurk assignment
    changes only until they consent (visit_refusal_raise), unless the researcher freed it
    (participants_mturk_assignment_release). Once they completed, the ids stay those of the
    submission they completed under: anyone who knows their id could open the link again. (So
    a HIT's worker who completed after the researcher freed their assignment keeps none: any
    HIT page with their worker id could claim their work.)
    """
    new = {
        name: value
        for name, value in visit_ids.items()
        if value and value != getattr(participant, name)
    }
    if not new or participant.status == Participant.Status.COMPLETED:
        return
    # The state read before may have changed meanwhile: update only from the state checked.
    rows = Participant.objects.filter(id=participant.id, status=Participant.Status.IN_PROGRESS)
    if "mturk_assignment_id" in new and participant.mturk_assignment_id:
        rows = rows.filter(
            mturk_assignment_id=participant.mturk_assignment_id, consented_at__isnull=True
        )
    if rows.update(**new):
        for name, value in new.items():
            setattr(participant, name, value)
    elif "mturk_assignment_id" in new and participant.mturk_assignment_id:
        raise AnswerInvalid(ASSIGNMENT_TAKEN_MESSAGE.format(worker=participant.external_id))


def participants_mturk_assignment_release(*, participants) -> int:
    """Let MTurk workers in progress go on under a new assignment (they returned their HIT
    and accepted it again): their next HIT page's assignment becomes theirs. Check on MTurk
    first that the new assignment is the worker's. Returns how many were released."""
    with transaction.atomic():
        rows = Participant.objects.filter(id__in=[p.id for p in participants])
        # Locked in pk order first, as every writer of several participants locks them: an
        # UPDATE alone locks in the order the table is read, which could deadlock with them.
        list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
        return (
            rows.filter(status=Participant.Status.IN_PROGRESS)
            .exclude(mturk_assignment_id="")
            .update(mturk_assignment_id="", mturk_hit_id="")
        )


def external_id_clean(external_id: object) -> str:
    """An external id is non-empty text of at most EXTERNAL_ID_MAX_CHARS characters."""
    if not isinstance(external_id, str) or not external_id.strip():
        raise AnswerInvalid("A participant id is required (e.g. PROLIFIC_PID in the link).")
    if "\x00" in external_id:
        raise AnswerInvalid("The participant id contains a NUL character.")
    if is_placeholder(external_id):
        raise AnswerInvalid(
            f"The study link holds the placeholder {external_id.strip()!r} instead of an id: "
            "open the study from Prolific, which fills it in."
        )
    if len(external_id.strip()) > EXTERNAL_ID_MAX_CHARS:
        raise AnswerInvalid(
            f"The participant id is longer than {EXTERNAL_ID_MAX_CHARS} characters."
        )
    return external_id.strip()


def is_placeholder(value: str) -> bool:
    """Whether a link's value is Prolific's placeholder (e.g. {{%STUDY_ID%}}) rather than
    filled in: the link was opened elsewhere than from Prolific."""
    return "{{%" in value or "%}}" in value


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
    existing = participant_by_external_id(experiment=experiment, external_id=external_id)
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


def participant_pilot_create(*, experiment: Experiment, by: str) -> Participant:
    """A researcher's own run through the study, before or during it (`by`: who, in the
    reason): a participant marked is_pilot and excluded, so it takes no list place, is left
    out of the analysis and progress, and is told apart in the exports. Unlike an arrival it
    may join a closed or full study. Successive pilot runs go through the lists in turn (the
    one with the fewest pilot runs, lowest number first), so each list can be tried.
    StudyUnavailable("no_lists") when there are no lists.
    """
    with transaction.atomic():
        experiment, trial_lists = experiment_lists_locked(experiment=experiment)
        if not trial_lists:
            raise StudyUnavailable("no_lists")
        pilots = Counter(
            experiment.participants.filter(is_pilot=True).values_list("trial_list", flat=True)
        )
        trial_list = list_least_counted(trial_lists=trial_lists, counts=pilots)
        return Participant.objects.create(
            experiment=experiment,
            external_id=f"pilot-{secrets.token_hex(8)}",
            trial_list=trial_list,
            trial_order=trial_order_new(experiment=experiment, trial_list=trial_list),
            is_pilot=True,
            excluded=True,
            exclusion_reason=f"Pilot run by {by}, not a participant.",
        )


def least_filled_list(*, experiment: Experiment, trial_lists: list[TrialList]) -> TrialList:
    """Of the lists with room, the one that would hold the fewest participants if everyone who
    may come back to it did (list_returning), then the one with the fewest places taken, then
    the lowest number; StudyUnavailable("full") when none has room.

    Someone who answered and then fell silent past the hold time gives up their place but
    keeps their list on return: a replacement goes, where it can, to a list nobody can come
    back to, so that a return does not take a list over its cap.
    """
    fills = list_fills(experiment=experiment)
    open_lists = lists_with_room(experiment=experiment, trial_lists=trial_lists, fills=fills)
    if not open_lists:
        raise StudyUnavailable("full")
    returning = list_returning(experiment=experiment)
    return min(
        open_lists,
        key=lambda trial_list: (
            fills.get(trial_list.id, 0) + returning.get(trial_list.id, 0),
            fills.get(trial_list.id, 0),
            trial_list.number,
        ),
    )


def trial_order_new(
    *, experiment: Experiment, trial_list: TrialList, rng: random.Random | None = None
) -> list[int]:
    """Panel ids in showing order: `practice_trials` practice panels drawn at random first,
    then the list, shuffled. `rng`: seeded by simulations, else drawn from the system.

    When there are more practice panels than trials, one labelled "yes" panel is kept out of
    the draw: the instructions show it as their example (example_panel), and an example the
    participant then rates would give its answer away.
    """
    rng = rng or random.Random(secrets.randbits(64))
    practice = Panel.objects.filter(experiment=experiment, is_practice=True).order_by("id")
    pool = list(practice.values_list("id", flat=True))
    yes = list(example_candidates(experiment_id=experiment.id).values_list("id", flat=True))
    if yes and len(pool) > experiment.practice_trials:
        pool.remove(rng.choice(yes))
    practice = rng.sample(pool, min(experiment.practice_trials, len(pool)))
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
