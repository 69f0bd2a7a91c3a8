"""Reading a participant's trials and the study's progress."""

from datetime import timedelta

from django.utils import timezone

from experiment.models import Participant
from experiment.selectors import (
    experiment_progress,
    participant_by_token,
    participant_trials,
)
from experiment.services import participant_consent, participant_enter
from tests.experiment.test_responses import answer


def test_participant_by_token_finds_only_this_experiments_participant(participant):
    experiment = participant.experiment
    assert participant_by_token(experiment=experiment, token=participant.token) == participant
    assert participant_by_token(experiment=experiment, token=participant.token[:-1] + "x") is None
    assert participant_by_token(experiment=experiment, token="") is None
    assert participant_by_token(experiment=experiment, token="a" * 65) is None
    assert participant_by_token(experiment=experiment, token=None) is None


def test_trials_follow_the_stored_order_and_know_what_is_answered(participant):
    answer(participant, 0)
    trials = participant_trials(participant=participant)
    assert [trial.panel.id for trial in trials] == participant.trial_order
    assert [trial.index for trial in trials] == list(range(len(trials)))
    assert [trial.is_practice for trial in trials] == [True, True, False, False, False]
    assert [trial.answered for trial in trials] == [True, False, False, False, False]


def test_progress_counts_completed_in_progress_and_abandoned_per_list(ready_experiment):
    done, active, gone = (
        participant_enter(experiment=ready_experiment, external_id=name)
        for name in ("done", "active", "gone")
    )
    participant_consent(participant=done)
    for index in range(len(done.trial_order)):
        answer(done, index)
    Participant.objects.filter(id=gone.id).update(
        last_seen_at=timezone.now() - timedelta(minutes=ready_experiment.hold_minutes + 1)
    )
    progress = experiment_progress(experiment=ready_experiment)
    by_list = {row.trial_list.id: row for row in progress.lists}
    assert by_list[done.trial_list_id].completed == 1
    assert by_list[active.trial_list_id].in_progress == 1
    assert by_list[gone.trial_list_id].abandoned == 1
    assert (progress.completed, progress.in_progress, progress.abandoned) == (1, 1, 1)
    assert all(row.panels == 3 for row in progress.lists)
    assert progress.capacity == 2 * ready_experiment.participants_per_list
    assert progress.percent_complete == 100 / progress.capacity
