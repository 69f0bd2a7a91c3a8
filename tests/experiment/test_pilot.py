"""A researcher's pilot run: a participant marked excluded that takes no place and may run in a
closed or full study."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from experiment.export import participants_csv_write
from experiment.models import Participant
from experiment.selectors import experiment_progress, list_fills
from experiment.services import (
    StudyUnavailable,
    participant_consent,
    participant_enter,
    participant_pilot_create,
)
from tests.experiment.test_responses import answer


def test_a_pilot_run_takes_no_place_and_runs_in_a_closed_full_study(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.is_open = False
    ready_experiment.save()
    pilot = participant_pilot_create(experiment=ready_experiment, by="boss")
    assert pilot.excluded and pilot.exclusion_reason == "Pilot run by boss, not a participant."
    assert pilot.external_id.startswith("pilot-") and pilot.trial_list is not None
    assert (
        len(pilot.trial_order) == ready_experiment.practice_trials + pilot.trial_list.items.count()
    )
    assert list_fills(experiment=ready_experiment) == {}
    participant_consent(participant=pilot)
    for index in range(len(pilot.trial_order)):  # answers like anyone, and completes
        answer(pilot, index)
    pilot.refresh_from_db()
    assert pilot.status == Participant.Status.COMPLETED
    assert list_fills(experiment=ready_experiment) == {}
    ready_experiment.is_open = True
    ready_experiment.save()
    participant_enter(experiment=ready_experiment, external_id="a")
    participant_enter(experiment=ready_experiment, external_id="b")
    with pytest.raises(StudyUnavailable):  # two lists of one place: full, pilots aside
        participant_enter(experiment=ready_experiment, external_id="c")
    second = participant_pilot_create(experiment=ready_experiment, by="boss")
    assert second.external_id != pilot.external_id
    # Back after the hold time, in a full study: a pilot holds no place, so it loses none.
    Participant.objects.filter(id=second.id).update(last_seen_at=timezone.now() - timedelta(days=1))
    second.refresh_from_db()
    participant_consent(participant=second)
    second.refresh_from_db()
    assert second.consented_at is not None
    progress = experiment_progress(experiment=ready_experiment)
    assert (progress.completed, progress.in_progress, progress.excluded) == (0, 2, 2)


def test_a_pilot_run_needs_lists(experiment):
    with pytest.raises(StudyUnavailable) as refused:
        participant_pilot_create(experiment=experiment, by="boss")
    assert refused.value.reason == "no_lists"
    assert not Participant.objects.exists()


def test_exports_tell_pilot_runs_apart(ready_experiment):
    participant_pilot_create(experiment=ready_experiment, by="boss")
    stream = io.StringIO()
    participants_csv_write(experiment=ready_experiment, stream=stream)
    row = next(csv.DictReader(io.StringIO(stream.getvalue())))
    assert (row["excluded"], row["exclusion_reason"]) == (
        "1",
        "Pilot run by boss, not a participant.",
    )


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-12345", is_staff=True)


def test_the_progress_page_starts_a_pilot_run_for_who_may_change_the_experiment(
    client, staff, ready_experiment
):
    progress = reverse("admin:experiment_experiment_progress", args=[ready_experiment.id])
    pilot = reverse("admin:experiment_experiment_pilot", args=[ready_experiment.id])
    staff.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    client.force_login(staff)
    assert "Try the study (pilot run)" not in client.get(progress).content.decode()
    assert client.post(pilot).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_experiment"))
    assert "Try the study (pilot run)" in client.get(progress).content.decode()
    assert client.get(pilot).status_code == 405
    reply = client.post(pilot)
    participant = Participant.objects.get()
    assert reply.url == f"/study/{ready_experiment.slug}/p/{participant.token}/"
    assert participant.exclusion_reason == "Pilot run by staff, not a participant."
    page = client.get(progress).content.decode()
    assert "1 excluded participants (pilot runs included)" in page


def test_a_pilot_run_without_lists_is_refused_with_a_message(client, staff, experiment):
    staff.user_permissions.add(Permission.objects.get(codename="change_experiment"))
    staff.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    client.force_login(staff)
    reply = client.post(
        reverse("admin:experiment_experiment_pilot", args=[experiment.id]), follow=True
    )
    assert "Build the lists before a pilot run" in reply.content.decode()
    assert not Participant.objects.exists()
