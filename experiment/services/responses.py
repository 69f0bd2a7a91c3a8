"""Participants' answers: one per trial, in order, stored once."""

from django.db import transaction
from django.utils import timezone

from experiment.answers import (
    Answer,
    AnswerConflict,
    AnswerInvalid,
    ParticipantGone,
    answer_parse,
    response_ms_parse,
)
from experiment.models import Panel, Participant, Response
from experiment.selectors import answered_indices, participant_state
from experiment.services.participants import StudyUnavailable, participant_seen


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

    Raises AnswerInvalid, changing nothing, when the answer breaks the protocol or consent is
    missing; AnswerConflict (only a reload helps) when the trial was answered otherwise (a
    second window), the panel is not at `trial_index` of this participant's order, an earlier
    trial is unanswered or the participant is done. The participant is marked completed when
    this answers their last trial.
    """
    answer = answer_parse(q1=q1, q2=q2, q3=q3)
    response_ms = response_ms_parse(response_ms)
    # Checked before a lapsed place is taken back (a malformed answer moves nobody), and again
    # under the lock.
    trial_check(participant=participant, trial_index=trial_index, panel_id=panel_id)
    place_take_back(participant=participant)
    with transaction.atomic():
        locked = Participant.objects.select_for_update().filter(id=participant.id).first()
        if locked is None:
            raise ParticipantGone("This participant link is not valid.")
        trial_check(participant=locked, trial_index=trial_index, panel_id=panel_id)
        answered = answered_indices(participant=locked)
        if trial_index in answered:
            stored = Response.objects.get(participant=locked, trial_index=trial_index)
            if answer != answer_of(stored):  # a retry after a lost reply sends the same answer
                raise AnswerConflict(
                    "This panel was already answered, perhaps in another window; the first "
                    "answer is kept. Reload the page to go on where you are."
                )
            # The caller's participant may predate the first sending (their last answer).
            participant.refresh_from_db()
            return stored
        if locked.status == Participant.Status.COMPLETED:
            raise AnswerConflict(
                "You have already completed the study. Reload the page to see its end."
            )
        first_open = min(set(range(len(locked.trial_order))) - answered)
        if trial_index != first_open:
            raise AnswerConflict(
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


def place_take_back(*, participant: Participant) -> None:
    """Before the first answer of a participant whose place lapsed (a trial page left open past
    the hold time), take the place back as a reload would (participant_seen): their list may
    have gone to a replacement meanwhile. AnswerConflict when they were moved to another list
    or every list is full: the reload shows them where they are."""
    if participant_state(participant=participant) != "abandoned" or participant.responses.exists():
        return
    order = participant.trial_order
    try:
        participant_seen(participant=participant)
    except StudyUnavailable:
        raise AnswerConflict(
            "Your place in the study lapsed while this page was open, and the study has since "
            "filled up. Reload the page."
        ) from None
    if participant.trial_order != order:
        raise AnswerConflict(
            "Your place in the study lapsed while this page was open, and you have been given "
            "another set of panels. Reload the page to start them."
        )


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
    if isinstance(panel_id, bool) or not isinstance(panel_id, int):
        raise AnswerInvalid("panel_id must be a whole number.")
    if order[trial_index] != panel_id:
        # A page opened before the participant's trials changed (their place lapsed and they
        # were placed in another list from a second tab): only a reload can help.
        raise AnswerConflict(
            f"This page shows another panel than your trial {trial_index + 1} now (your "
            "trials changed in another tab or window). Reload the page to go on where you are."
        )


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


FEEDBACK_MAX_CHARS = 2000


def participant_feedback_save(*, participant: Participant, text: object) -> None:
    """Store what a participant who has finished wrote on the completion page (replacing what
    they wrote before); AnswerInvalid, changing nothing, for one who has not finished or for
    text that is not text or is longer than FEEDBACK_MAX_CHARS."""
    if participant.status != Participant.Status.COMPLETED:
        raise AnswerInvalid("Comments are taken on the completion page, once you have finished.")
    if not isinstance(text, str):
        raise AnswerInvalid("The comment must be text.")
    text = text.replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) > FEEDBACK_MAX_CHARS:
        raise AnswerInvalid(
            f"The comment is {len(text)} characters long; please keep it to {FEEDBACK_MAX_CHARS}."
        )
    Participant.objects.filter(id=participant.id).update(feedback=text)
    participant.feedback = text
