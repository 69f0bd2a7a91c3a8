"""Recording answers: the protocol's rules, idempotent re-sends, completion."""

from datetime import timedelta

import pytest
from django.utils import timezone

from experiment.answers import AnswerConflict, ParticipantGone
from experiment.models import Participant, Response
from experiment.selectors import participant_state
from experiment.services import AnswerInvalid, participant_enter, response_record


def answer(participant, index, **fields):
    """Record a valid 'no' answer (or the given fields) at `index`."""
    payload = {"q1": "no", "q2": None, "q3": "", "response_ms": 1500} | fields
    return response_record(
        participant=participant,
        trial_index=index,
        panel_id=participant.trial_order[index],
        **payload,
    )


def test_a_yes_answer_stores_bin_and_two_labels(participant):
    response = answer(participant, 0, q1="yes", q2=3, q3=" dog ;  Cat ", response_ms=2300)
    assert (response.q1_yes, response.q2_bin) == (True, 3)
    assert (response.q3_first, response.q3_second) == ("dog", "Cat")
    assert response.is_practice
    assert response.response_ms == 2300


@pytest.mark.parametrize(
    "text",
    [
        *("dog, cat", "dog/cat", "dog\ncat", "dog;cat"),
        *("dog\uff0ccat", "dog\u3001cat", "dog\u060c cat"),  # full-width, ideographic, Arabic
        "dog, \ufeff, cat",  # blanks as the trial page counts them: the byte-order mark too
        "\x85dog\x1c,\u3000cat",
    ],
)
def test_every_separator_splits_two_labels(participant, text):
    response = answer(participant, 0, q1="yes", q2=0, q3=text)
    assert (response.q3_first, response.q3_second) == ("dog", "cat")


def test_a_no_answer_stores_no_bin_nor_label(participant):
    response = answer(participant, 0)
    assert (response.q1_yes, response.q2_bin, response.q3_first) == (False, None, "")


BAD_ANSWERS = [
    ({"q1": ""}, "Q1 is required"),
    ({"q1": None}, "Q1 is required"),
    ({"q1": "maybe"}, "Q1 is required"),
    ({"q1": "yes", "q2": 5, "q3": "dog"}, "Q2 must be one of the bins"),
    ({"q1": "yes", "q2": -1, "q3": "dog"}, "Q2 must be one of the bins"),
    ({"q1": "yes", "q2": "2", "q3": "dog"}, "Q2 must be one of the bins"),
    ({"q1": "yes", "q2": True, "q3": "dog"}, "Q2 must be one of the bins"),
    ({"q1": "yes", "q2": None, "q3": "dog"}, "Q2 is required"),
    ({"q1": "yes", "q2": 1, "q3": "  "}, "Q3 is required"),
    ({"q1": "yes", "q2": 1, "q3": ", ;"}, "Q3 is required"),
    ({"q1": "no", "q2": 1}, "After 'no'"),
    ({"q1": "no", "q3": "dog"}, "After 'no'"),
    ({"q1": "yes", "q2": 1, "q3": "dog, cat, bird"}, "at most two"),
    ({"q1": "yes", "q2": 1, "q3": "d" * 101}, "at most 100 characters"),
    ({"q1": "yes", "q2": 1, "q3": "d" * 300}, "too long"),
    ({"q1": "yes", "q2": 1, "q3": None}, "Q3 must be text"),
    ({"response_ms": -1}, "response_ms"),
    ({"response_ms": 2**31}, "response_ms"),
    ({"response_ms": 1.5}, "response_ms"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_ANSWERS)
def test_answers_breaking_the_protocol_are_refused_and_change_nothing(participant, fields, message):
    with pytest.raises(AnswerInvalid, match=message) as raised:
        answer(participant, 0, **fields)
    assert message in raised.value.message
    assert not Response.objects.exists()


def test_a_panel_not_at_that_trial_index_is_refused(participant):
    other = participant.trial_order[1]
    with pytest.raises(AnswerConflict, match="another panel than your trial 1 now"):
        response_record(
            participant=participant,
            trial_index=0,
            panel_id=other,
            q1="no",
            q2=None,
            q3="",
            response_ms=10,
        )
    assert not Response.objects.exists()


def test_a_panel_of_another_participants_list_is_refused(participant):
    stranger = participant_enter(experiment=participant.experiment, external_id="p2")
    foreign = set(stranger.trial_order) - set(participant.trial_order)
    with pytest.raises(AnswerInvalid):
        response_record(
            participant=participant,
            trial_index=3,
            panel_id=foreign.pop(),
            q1="no",
            q2=None,
            q3="",
            response_ms=10,
        )


@pytest.mark.parametrize("index", [-1, 5, 999, "0", None, True])
def test_trial_indices_outside_the_order_are_refused(participant, index):
    with pytest.raises(AnswerInvalid):
        response_record(
            participant=participant,
            trial_index=index,
            panel_id=participant.trial_order[0],
            q1="no",
            q2=None,
            q3="",
            response_ms=10,
        )


def test_answers_before_consent_are_refused(ready_experiment):
    newcomer = participant_enter(experiment=ready_experiment, external_id="new")
    with pytest.raises(AnswerInvalid, match="Consent"):
        answer(newcomer, 0)


def test_resending_an_answered_trial_returns_the_stored_response_unchanged(participant):
    """A retry after a lost reply sends the same answer again: one row, nothing changed."""
    first = answer(participant, 0, q1="yes", q2=2, q3="dog")
    again = answer(participant, 0, q1="yes", q2=2, q3=" dog ")
    assert again.id == first.id
    assert Response.objects.count() == 1


def test_a_retried_last_answer_reports_the_participant_completed(participant):
    """The retry's request read the participant before the first sending completed them."""
    last = len(participant.trial_order) - 1
    for index in range(last):
        answer(participant, index)
    stale = Participant.objects.get(id=participant.id)  # read by the retry's request
    answer(participant, last)  # the first sending, whose reply was lost
    assert stale.status == Participant.Status.IN_PROGRESS
    answer(stale, last)
    assert stale.status == Participant.Status.COMPLETED


def test_another_answer_to_an_answered_trial_is_a_conflict_and_the_first_stands(participant):
    """A second window answering the same panel otherwise is told, not silently ignored."""
    answer(participant, 0, q1="yes", q2=2, q3="dog")
    with pytest.raises(AnswerConflict, match="already answered, perhaps in another window"):
        answer(participant, 0, q1="no")
    stored = Response.objects.get()
    assert (stored.q1_yes, stored.q3_first) == (True, "dog")


def test_trials_are_answered_in_order(participant):
    with pytest.raises(AnswerConflict, match="Panel 1 comes before panel 2"):
        answer(participant, 1)
    answer(participant, 0)
    answer(participant, 1)
    assert Response.objects.count() == 2


def test_the_last_answer_completes_the_participant(participant):
    for index in range(len(participant.trial_order) - 1):
        answer(participant, index)
    assert participant.status == Participant.Status.IN_PROGRESS
    answer(participant, len(participant.trial_order) - 1)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert participant.completed_at is not None
    # A double submission of the last trial still answers with the stored response.
    assert answer(participant, len(participant.trial_order) - 1).participant_id == participant.id
    assert Response.objects.count() == len(participant.trial_order)


def test_answers_update_last_seen(participant):
    before = participant.last_seen_at
    answer(participant, 0)
    participant.refresh_from_db()
    assert participant.last_seen_at > before


def lapse(participant, minutes=61) -> None:
    """The participant's trial page was left open `minutes` ago."""
    Participant.objects.filter(id=participant.id).update(
        last_seen_at=timezone.now() - timedelta(minutes=minutes)
    )
    participant.refresh_from_db()


def lapsed_with_one_place_per_list(participant):
    """The participant's page left open past the hold time, in a study of one place per list;
    returns the experiment."""
    experiment = participant.experiment
    experiment.participants_per_list = 1
    experiment.save()
    lapse(participant)
    return experiment


def test_a_first_answer_after_the_place_lapsed_takes_it_back_where_there_is_room(participant):
    lapse(participant)
    answer(participant, 0)
    assert participant_state(participant=participant) == "in_progress"


def test_a_first_answer_after_the_place_went_to_another_asks_for_a_reload(participant):
    """Their list was given away while the page was open: the answer would take it over its
    cap. They move to the list with room, as a reload would place them, and are told so."""
    experiment = lapsed_with_one_place_per_list(participant)
    replacement = participant_enter(experiment=experiment, external_id="replacement")
    assert replacement.trial_list_id == participant.trial_list_id
    with pytest.raises(AnswerConflict, match="another set of panels"):
        answer(participant, 0)
    assert not Response.objects.exists()
    participant.refresh_from_db()
    assert participant.trial_list_id != replacement.trial_list_id
    answer(participant, 0)  # from the reloaded page


def test_a_first_answer_after_the_place_lapsed_in_a_full_study_asks_for_a_reload(participant):
    experiment = lapsed_with_one_place_per_list(participant)
    participant_enter(experiment=experiment, external_id="b")
    participant_enter(experiment=experiment, external_id="c")
    with pytest.raises(AnswerConflict, match="filled up"):
        answer(participant, 0)
    assert not Response.objects.exists()


def test_a_malformed_first_answer_after_a_lapse_is_refused_for_what_it_is(participant):
    """Checked before the place is taken back: the real reason, and nobody moved."""
    experiment = lapsed_with_one_place_per_list(participant)
    participant_enter(experiment=experiment, external_id="replacement")
    own_list = participant.trial_list_id
    with pytest.raises(AnswerInvalid, match="There is no trial 99"):
        response_record(
            participant=participant, trial_index=99, panel_id=1, q1="no", q2=None, q3="",
            response_ms=900,
        )  # fmt: skip
    participant.refresh_from_db()
    assert participant.trial_list_id == own_list


def test_an_answer_of_a_participant_deleted_meanwhile_is_refused_as_gone(participant):
    """Withdrawn (or a pilot run deleted) while their page was open: a 404 reply, not a 500."""
    Participant.objects.filter(id=participant.id).delete()
    with pytest.raises(ParticipantGone) as gone:
        answer(participant, 0)
    assert gone.value.status == 404
