"""A researcher's pilot run: a participant of its own kind, always excluded, that takes no
place, may run in a closed or full study and never reaches the analysis."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from experiment.export import participants_csv_write
from experiment.models import Participant
from experiment.selectors import experiment_progress, list_fills
from experiment.services import (
    AnswerInvalid,
    ListsBuildRefused,
    PanelRefused,
    StudyUnavailable,
    experiment_lists_build,
    panel_register,
    participant_consent,
    participant_enter,
    participant_pilot_create,
)
from tests.experiment.test_responses import answer


def pilot_completed(experiment) -> Participant:
    pilot = participant_pilot_create(experiment=experiment, by="boss")
    participant_consent(participant=pilot)
    for index in range(len(pilot.trial_order)):  # answers like anyone, and completes
        answer(pilot, index)
    pilot.refresh_from_db()
    return pilot


def test_a_pilot_run_takes_no_place_and_runs_in_a_closed_full_study(ready_experiment):
    ready_experiment.participants_per_list = 1
    ready_experiment.is_open = False
    ready_experiment.save()
    pilot = pilot_completed(ready_experiment)
    assert pilot.is_pilot and pilot.excluded and pilot.status == Participant.Status.COMPLETED
    assert pilot.exclusion_reason == "Pilot run by boss, not a participant."
    assert pilot.external_id.startswith("pilot-")
    assert len(pilot.trial_order) == 2 + pilot.trial_list.items.count()
    assert list_fills(experiment=ready_experiment) == {}
    ready_experiment.is_open = True
    ready_experiment.save()
    participant_enter(experiment=ready_experiment, external_id="a")
    participant_enter(experiment=ready_experiment, external_id="b")
    with pytest.raises(StudyUnavailable):  # two lists of one place: full, pilots aside
        participant_enter(experiment=ready_experiment, external_id="c")
    second = participant_pilot_create(experiment=ready_experiment, by="boss")
    # Back after the hold time, in a full study: a pilot holds no place, so it loses none.
    Participant.objects.filter(id=second.id).update(last_seen_at=timezone.now() - timedelta(days=1))
    second.refresh_from_db()
    participant_consent(participant=second)
    assert Participant.objects.get(id=second.id).consented_at is not None
    progress = experiment_progress(experiment=ready_experiment)
    assert (progress.completed, progress.in_progress, progress.excluded) == (0, 2, 0)
    assert progress.pilots == 2


def test_successive_pilot_runs_go_through_the_lists(ready_experiment):
    participant_enter(experiment=ready_experiment, external_id="a")  # list 1 is fuller
    numbers = [
        participant_pilot_create(experiment=ready_experiment, by="boss").trial_list.number
        for _ in range(4)
    ]
    assert numbers == [1, 2, 1, 2]


def test_a_pilot_run_needs_lists(experiment):
    with pytest.raises(StudyUnavailable) as refused:
        participant_pilot_create(experiment=experiment, by="boss")
    assert refused.value.reason == "no_lists"
    assert not Participant.objects.exists()


def test_nobody_enters_through_a_pilot_runs_id(ready_experiment):
    pilot = participant_pilot_create(experiment=ready_experiment, by="boss")
    with pytest.raises(AnswerInvalid, match="belongs to a pilot run of the study"):
        participant_enter(experiment=ready_experiment, external_id=pilot.external_id)


def test_pilot_runs_hold_panels_and_lists_until_deleted(ready_experiment, tmp_path):
    image = tmp_path / "extra.png"
    Image.new("RGB", (20, 20), "white").save(image)
    pilot = participant_pilot_create(experiment=ready_experiment, by="boss")
    with pytest.raises(ListsBuildRefused, match="has pilot runs"):
        experiment_lists_build(experiment=ready_experiment, lists=2, seed=1)
    with pytest.raises(PanelRefused, match="has pilot runs"):
        panel_register(experiment=ready_experiment, image_path=image, source="extra.png")
    pilot.delete()
    experiment_lists_build(experiment=ready_experiment, lists=3, seed=1)


def test_exports_tell_pilot_runs_apart(ready_experiment):
    participant_pilot_create(experiment=ready_experiment, by="boss")
    stream = io.StringIO()
    participants_csv_write(experiment=ready_experiment, stream=stream)
    row = next(csv.DictReader(io.StringIO(stream.getvalue())))
    assert (row["is_pilot"], row["excluded"]) == ("1", "1")
    assert row["exclusion_reason"] == "Pilot run by boss, not a participant."


def test_the_completion_page_of_a_pilot_run_sends_nobody_to_the_recruitment_site(
    client, ready_experiment
):
    ready_experiment.completion_url = "https://app.prolific.com/submissions/complete?cc=X"
    ready_experiment.save()
    pilot = pilot_completed(ready_experiment)
    page = client.get(f"/study/{ready_experiment.slug}/p/{pilot.token}/complete/").content
    assert b"This was a pilot run" in page and b"prolific.com" not in page


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    return user


def permit(user, *codenames) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def test_the_progress_page_starts_a_pilot_run_for_who_may_also_delete_it(staff, ready_experiment):
    client = Client(enforce_csrf_checks=True)
    progress = reverse("admin:experiment_experiment_progress", args=[ready_experiment.id])
    pilot = reverse("admin:experiment_experiment_pilot", args=[ready_experiment.id])
    client.force_login(staff)
    permit(staff, "change_experiment")  # may change the experiment, not delete participants
    assert "Try the study (pilot run)" not in client.get(progress).content.decode()
    permit(staff, "delete_participant")
    client.force_login(staff)  # permissions are cached on the user
    page = client.get(progress).content.decode()
    assert "Try the study (pilot run)" in page
    assert client.post(pilot).status_code == 403  # no CSRF token
    assert client.get(pilot).status_code == 405
    token = client.cookies["csrftoken"].value
    reply = client.post(pilot, {"csrfmiddlewaretoken": token})
    participant = Participant.objects.get()
    assert reply.url == f"/study/{ready_experiment.slug}/p/{participant.token}/"
    assert participant.exclusion_reason == "Pilot run by staff, not a participant."
    assert "1 pilot run</a> is not counted here" in client.get(progress).content.decode()


def test_who_may_not_delete_participants_cannot_start_a_pilot_run(client, staff, ready_experiment):
    permit(staff, "change_experiment")
    client.force_login(staff)
    reply = client.post(reverse("admin:experiment_experiment_pilot", args=[ready_experiment.id]))
    assert reply.status_code == 403
    assert not Participant.objects.exists()


def test_a_pilot_run_without_lists_is_refused_with_a_message(client, staff, experiment):
    permit(staff, "change_experiment", "delete_participant")
    client.force_login(staff)
    reply = client.post(
        reverse("admin:experiment_experiment_pilot", args=[experiment.id]), follow=True
    )
    assert "Build the lists before a pilot run" in reply.content.decode()
    assert not Participant.objects.exists()


def test_a_pilot_run_cannot_be_made_a_participant_in_the_admin(client, staff, ready_experiment):
    permit(staff, "change_participant")
    client.force_login(staff)
    pilot = participant_pilot_create(experiment=ready_experiment, by="boss")
    url = reverse("admin:experiment_participant_change", args=[pilot.id])
    # Unticked "excluded" on the page, which showed it ticked (its hidden initial value).
    reply = client.post(url, {"exclusion_reason": "oops", "initial-excluded": "True"})
    assert "A pilot run is not a participant and stays excluded" in reply.content.decode()
    pilot.refresh_from_db()
    assert pilot.excluded
