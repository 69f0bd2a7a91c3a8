"""Entering the study: the same id returns, new ids get the least-filled list, full is polite."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from experiment.models import Participant, TrialList
from experiment.selectors import list_fills
from experiment.services import (
    AnswerInvalid,
    StudyUnavailable,
    experiment_lists_build,
    participant_consent,
    participant_enter,
    participants,
)
from tests.experiment.conftest import panels_create


def fills(experiment) -> list[int]:
    return [t.participants.count() for t in TrialList.objects.filter(experiment=experiment)]


def silent_for(participant, **delta) -> None:
    """Make the participant's last visit `delta` (timedelta arguments) ago."""
    Participant.objects.filter(id=participant.id).update(
        last_seen_at=timezone.now() - timedelta(**delta)
    )


def test_new_participant_gets_practice_first_then_their_shuffled_list(ready_experiment):
    participant = participant_enter(
        experiment=ready_experiment, external_id="p1", prolific_study_id="s", user_agent="ua"
    )
    order = participant.trial_order
    practice = set(ready_experiment.panels.filter(is_practice=True).values_list("id", flat=True))
    listed = set(participant.trial_list.items.values_list("panel_id", flat=True))
    assert set(order[:2]) == practice
    assert sorted(order[2:]) == sorted(listed)
    assert participant.prolific_study_id == "s"
    assert participant.status == Participant.Status.IN_PROGRESS


def test_the_same_external_id_returns_the_same_participant_and_order(ready_experiment):
    first = participant_enter(experiment=ready_experiment, external_id="p1")
    again = participant_enter(experiment=ready_experiment, external_id=" p1 ")
    assert again.id == first.id
    assert again.trial_order == first.trial_order
    assert Participant.objects.count() == 1


@pytest.mark.parametrize("typed", ["a3worker", "A3Worker", "Ａ３ＷＯＲＫＥＲ", "a3workeR"])
def test_an_id_in_another_letter_case_or_width_is_the_same_participant(ready_experiment, typed):
    """Ids typed by hand: the MTurk worker "A3XYZ" typing "a3xyz" (or on a keyboard set to
    full-width letters) gets no second place."""
    first = participant_enter(experiment=ready_experiment, external_id="A3WORKER")
    again = participant_enter(experiment=ready_experiment, external_id=typed)
    assert again.id == first.id and again.external_id == "A3WORKER"
    assert Participant.objects.count() == 1


def test_ids_fold_alike_on_every_database_and_for_withdrawals(ready_experiment):
    """In Python, not by the database's LOWER (SQLite folds only ASCII): "ÉMILE" is "émile"."""
    first = participant_enter(experiment=ready_experiment, external_id="ÉMILE")
    assert participant_enter(experiment=ready_experiment, external_id="émile").id == first.id
    assert participant_enter(experiment=ready_experiment, external_id="emile").id != first.id


def test_the_database_refuses_ids_differing_only_in_letter_case(ready_experiment):
    participant_enter(experiment=ready_experiment, external_id="A3WORKER")
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(
            experiment=ready_experiment,
            external_id="a3worker",
            trial_list=TrialList.objects.first(),
        )


def test_orders_are_shuffled_per_participant(experiment):
    panels_create(experiment, units=30)
    experiment_lists_build(experiment=experiment, lists=1, seed=0)
    orders = {
        tuple(participant_enter(experiment=experiment, external_id=f"p{i}").trial_order)
        for i in range(5)
    }
    assert len(orders) > 1


def test_only_practice_trials_many_practice_panels_are_shown(experiment):
    panels_create(experiment, units=2, practice=5)
    experiment_lists_build(experiment=experiment, lists=1, seed=0)
    participant = participant_enter(experiment=experiment, external_id="p")
    assert len(participant.trial_order) == 2 + 2


def test_arrivals_fill_the_least_filled_list_in_turn(ready_experiment):
    for number in range(4):
        participant_enter(experiment=ready_experiment, external_id=f"p{number}")
    assert fills(ready_experiment) == [2, 2]


def test_when_every_list_is_full_the_study_is_full_and_nothing_is_created(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    participant_enter(experiment=ready_experiment, external_id="a")
    participant_enter(experiment=ready_experiment, external_id="b")
    with pytest.raises(StudyUnavailable) as raised:
        participant_enter(experiment=ready_experiment, external_id="c")
    assert raised.value.reason == "full"
    assert "full" in raised.value.message
    assert Participant.objects.count() == 2
    # Someone already in keeps their place in a full study.
    assert participant_enter(experiment=ready_experiment, external_id="a").external_id == "a"


def test_a_slot_silent_longer_than_the_hold_time_becomes_free(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.hold_minutes = 30
    ready_experiment.save()
    gone = participant_enter(experiment=ready_experiment, external_id="gone")
    participant_enter(experiment=ready_experiment, external_id="b")
    silent_for(gone, minutes=31)
    late = participant_enter(experiment=ready_experiment, external_id="late")
    assert late.trial_list_id == gone.trial_list_id


def test_completed_participants_keep_counting_after_the_hold_time(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    done = participant_enter(experiment=ready_experiment, external_id="done")
    participant_enter(experiment=ready_experiment, external_id="b")
    Participant.objects.filter(id=done.id).update(
        status=Participant.Status.COMPLETED,
        last_seen_at=timezone.now() - timedelta(days=2),
    )
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=ready_experiment, external_id="c")


def test_closed_study_or_one_without_lists_creates_nobody(experiment):
    with pytest.raises(StudyUnavailable) as raised:
        participant_enter(experiment=experiment, external_id="x")
    assert raised.value.reason == "no_lists"
    experiment.is_open = False
    experiment.save()
    with pytest.raises(StudyUnavailable) as raised:
        participant_enter(experiment=experiment, external_id="x")
    assert raised.value.reason == "closed"
    assert not Participant.objects.exists()


def test_participants_already_in_may_finish_a_closed_study(ready_experiment):
    first = participant_enter(experiment=ready_experiment, external_id="p")
    ready_experiment.is_open = False
    ready_experiment.save()
    assert participant_enter(experiment=ready_experiment, external_id="p").id == first.id


@pytest.mark.parametrize("external_id", ["", "   ", "x" * 201, None, 42])
def test_empty_or_overlong_ids_are_refused(ready_experiment, external_id):
    with pytest.raises(AnswerInvalid, match="participant id"):
        participant_enter(experiment=ready_experiment, external_id=external_id)
    assert not Participant.objects.exists()


def test_tokens_are_long_and_different(ready_experiment):
    tokens = {
        participant_enter(experiment=ready_experiment, external_id=f"p{i}").token for i in range(4)
    }
    assert len(tokens) == 4
    assert all(len(token) >= 40 for token in tokens)


def test_a_returning_participant_counts_as_seen_again(ready_experiment):
    first = participant_enter(experiment=ready_experiment, external_id="p")
    long_ago = timezone.now() - timedelta(days=1)
    Participant.objects.filter(id=first.id).update(last_seen_at=long_ago)
    participant_enter(experiment=ready_experiment, external_id="p")
    first.refresh_from_db()
    assert first.last_seen_at > long_ago


def test_synthetic_participants_take_no_real_participants_place(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    for trial_list in TrialList.objects.filter(experiment=ready_experiment):
        Participant.objects.create(
            experiment=ready_experiment,
            external_id=f"synthetic-{trial_list.number}",
            trial_list=trial_list,
            status=Participant.Status.COMPLETED,
            is_synthetic=True,
        )
    participant_enter(experiment=ready_experiment, external_id="real-1")
    participant_enter(experiment=ready_experiment, external_id="real-2")
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=ready_experiment, external_id="real-3")


def test_a_visitor_who_never_consents_frees_the_place_after_a_short_hold(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    visitor = participant_enter(experiment=ready_experiment, external_id="visitor")
    consenting = participant_enter(experiment=ready_experiment, external_id="consenting")
    participant_consent(participant=consenting)
    eleven_minutes_ago = timezone.now() - timedelta(minutes=11)
    Participant.objects.filter(id__in=[visitor.id, consenting.id]).update(
        last_seen_at=eleven_minutes_ago
    )
    late = participant_enter(experiment=ready_experiment, external_id="late")
    assert late.trial_list_id == visitor.trial_list_id  # the consenting one keeps their place
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=ready_experiment, external_id="later")


def test_a_visitor_who_consents_after_losing_the_place_moves_to_a_list_with_room(
    ready_experiment,
):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    slow = participant_enter(experiment=ready_experiment, external_id="slow")
    silent_for(slow, minutes=11)
    quick = participant_enter(experiment=ready_experiment, external_id="quick")
    assert quick.trial_list_id == slow.trial_list_id  # the lapsed place was given away
    slow.refresh_from_db()  # as the consent page loads it
    participant_consent(participant=slow)
    slow.refresh_from_db()
    assert slow.trial_list_id != quick.trial_list_id
    assert set(slow.trial_order[2:]) == set(
        slow.trial_list.items.values_list("panel_id", flat=True)
    )
    assert fills(ready_experiment) == [1, 1]


def test_a_lapsed_visitor_finds_the_study_full_and_their_list_stays_within_its_cap(
    ready_experiment,
):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    slow = participant_enter(experiment=ready_experiment, external_id="slow")
    silent_for(slow, minutes=11)
    participant_enter(experiment=ready_experiment, external_id="b")
    participant_enter(experiment=ready_experiment, external_id="c")
    slow.refresh_from_db()
    with pytest.raises(StudyUnavailable) as raised:
        participant_consent(participant=slow)
    assert raised.value.returning
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=ready_experiment, external_id="slow")
    slow.refresh_from_db()
    assert slow.consented_at is None


def arrived_ago(participant, **delta) -> None:
    """Make the participant's arrival and last visit `delta` (timedelta arguments) ago."""
    then = timezone.now() - timedelta(**delta)
    Participant.objects.filter(id=participant.id).update(started_at=then, last_seen_at=then)
    participant.refresh_from_db()


def test_a_visitor_still_reading_the_consent_page_keeps_the_place(ready_experiment):
    """A slow reader (a screen reader, say) lost the place after 10 minutes with the consent
    page open, and "I agree" then found the study full; the open page now keeps it."""
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    slow = participant_enter(experiment=ready_experiment, external_id="slow")
    other = participant_enter(experiment=ready_experiment, external_id="other")
    arrived_ago(slow, minutes=8)
    assert participants.participant_consent_reading(participant=slow)
    Participant.objects.filter(id=slow.id).update(
        last_seen_at=F("last_seen_at") - timedelta(minutes=7)
    )
    slow.refresh_from_db()  # 15 minutes after arriving, 7 after the page's last word
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=ready_experiment, external_id="late")
    participant_consent(participant=slow)
    slow.refresh_from_db()
    assert slow.consented_at is not None and slow.trial_list_id != other.trial_list_id


@pytest.mark.parametrize("case", ["lapsed", "past the hold time", "consented", "declined"])
def test_the_consent_page_keeps_no_place_it_no_longer_holds(ready_experiment, case):
    """A page left open does not hold a place for good, nor take back one that lapsed."""
    visitor = participant_enter(experiment=ready_experiment, external_id="visitor")
    if case == "lapsed":
        arrived_ago(visitor, minutes=11)
    elif case == "past the hold time":
        arrived_ago(visitor, minutes=ready_experiment.hold_minutes)
        Participant.objects.filter(id=visitor.id).update(last_seen_at=timezone.now())
    elif case == "consented":
        participant_consent(participant=visitor)
    else:
        participants.participant_decline(participant=visitor)
    seen = Participant.objects.filter(id=visitor.id).values_list("last_seen_at", flat=True)
    before = list(seen)
    assert not participants.participant_consent_reading(participant=visitor)
    assert list(seen) == before


def test_a_participant_with_answers_keeps_their_list_whatever_its_fill(participant):
    experiment = participant.experiment
    experiment.participants_per_list = 1
    experiment.save()
    own_list = participant.trial_list_id
    participant.responses.create(
        panel_id=participant.trial_order[0], trial_index=0, q1_yes=False, response_ms=900
    )
    silent_for(participant, hours=2)
    participant_enter(experiment=experiment, external_id="b")
    participant_enter(experiment=experiment, external_id="c")
    back = participant_enter(experiment=experiment, external_id=participant.external_id)
    assert back.trial_list_id == own_list


def answer_first_trial(participant) -> None:
    participant.responses.create(
        panel_id=participant.trial_order[0], trial_index=0, q1_yes=False, response_ms=900
    )


def places(experiment) -> dict[int, int]:
    """Places taken per list number."""
    taken = list_fills(experiment=experiment)
    lists = TrialList.objects.filter(experiment=experiment)
    return {t.number: taken.get(t.id, 0) for t in lists}


def test_a_replacement_goes_to_a_list_nobody_can_come_back_to(ready_experiment):
    """Who answered and fell silent keeps their list on return: an equally empty list without
    such a participant takes the newcomer, so the return leaves both lists at their cap."""
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    away = participant_enter(experiment=ready_experiment, external_id="away")
    participant_consent(participant=away)
    answer_first_trial(away)
    silent_for(away, minutes=61)
    newcomer = participant_enter(experiment=ready_experiment, external_id="new")
    assert newcomer.trial_list_id != away.trial_list_id
    participant_enter(experiment=ready_experiment, external_id="away")
    assert places(ready_experiment) == {1: 1, 2: 1}


def test_returns_take_a_list_over_its_cap_only_when_no_list_is_free_of_them(ready_experiment):
    ready_experiment.participants_per_list = 2
    ready_experiment.save()
    away = []
    for name in ("a", "b", "c"):
        participant = participant_enter(experiment=ready_experiment, external_id=name)
        participant_consent(participant=participant)
        answer_first_trial(participant)
        silent_for(participant, minutes=61)
        away.append(participant)
    # They went to lists 1, 2, 1: list 2 has room for one more before anyone comes back.
    participant_enter(experiment=ready_experiment, external_id="new")
    for participant in away:
        participant_enter(experiment=ready_experiment, external_id=participant.external_id)
    assert places(ready_experiment) == {1: 2, 2: 2}


def test_coming_back_through_a_new_prolific_session_keeps_the_latest_ids(ready_experiment):
    participant_enter(
        experiment=ready_experiment,
        external_id="p",
        prolific_study_id="s1",
        prolific_session_id="a",
    )
    participant_enter(experiment=ready_experiment, external_id="p", prolific_session_id="b")
    participant = Participant.objects.get(external_id="p")
    assert (participant.prolific_study_id, participant.prolific_session_id) == ("s1", "b")


def test_a_completed_participants_ids_stay_those_of_the_submission(ready_experiment):
    """Someone else opening the link with their id cannot repoint the approval to a session."""
    participant_enter(experiment=ready_experiment, external_id="p", prolific_session_id="a")
    Participant.objects.filter(external_id="p").update(status=Participant.Status.COMPLETED)
    participant_enter(experiment=ready_experiment, external_id="p", prolific_session_id="forged")
    assert Participant.objects.get(external_id="p").prolific_session_id == "a"


def test_an_excluded_participant_gives_up_their_place(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    excluded = participant_enter(experiment=ready_experiment, external_id="a")
    participant_enter(experiment=ready_experiment, external_id="b")
    Participant.objects.filter(id=excluded.id).update(excluded=True)
    replacement = participant_enter(experiment=ready_experiment, external_id="c")
    assert replacement.trial_list_id == excluded.trial_list_id


def test_a_place_taken_back_counts_as_soon_as_it_is_taken(ready_experiment, monkeypatch):
    """An arrival right after a lapsed participant took their place back finds it taken."""
    ready_experiment.participants_per_list = 1
    ready_experiment.save()
    slow = participant_enter(experiment=ready_experiment, external_id="slow")
    participant_enter(experiment=ready_experiment, external_id="other")  # fills the other list
    silent_for(slow, minutes=11)
    retake = participants.participant_place_retake

    def retake_then_someone_arrives(*, participant):
        retake(participant=participant)
        with pytest.raises(StudyUnavailable):
            participant_enter(experiment=ready_experiment, external_id="late")

    monkeypatch.setattr(participants, "participant_place_retake", retake_then_someone_arrives)
    participant_enter(experiment=ready_experiment, external_id="slow")
    assert fills(ready_experiment) == [1, 1]


def test_a_yes_practice_panel_is_always_left_for_the_instructions_example(experiment):
    """7 practice panels (4 yes) and 6 practice trials: nobody draws all four "yes" panels, so
    the example shown in the instructions is never one of their own."""
    from experiment.selectors import example_panel

    panels_create(experiment, units=2, practice=7)
    experiment.practice_trials, experiment.participants_per_list = 6, 20
    experiment.save()
    experiment_lists_build(experiment=experiment, lists=1, seed=1)
    yes = set(experiment.panels.filter(intended_answer="yes").values_list("id", flat=True))
    for number in range(20):
        participant = participant_enter(experiment=experiment, external_id=f"p{number}")
        practice = participant.trial_order[:6]
        assert len(yes & set(practice)) == 3 and len(set(practice)) == 6
        assert example_panel(participant=participant).id not in practice
