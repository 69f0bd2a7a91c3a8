"""A withdrawal: a participant deleted at their request cannot enter again with their id."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.urls import reverse

from experiment.export import external_id_digest, pseudonym_key
from experiment.models import Participant, Response, Withdrawal
from experiment.services import (
    StudyUnavailable,
    participant_consent,
    participant_enter,
    participant_pilot_create,
    participants_withdraw,
    withdrawal_digests,
)
from tests.experiment.test_admin import staff_client  # noqa: F401  (fixture)
from tests.experiment.test_responses import answer


def test_a_withdrawn_id_is_refused_and_only_its_digest_is_kept(client, participant):
    answer(participant, 0)
    experiment = participant.experiment
    participants_withdraw(participants=[participant])
    assert not Participant.objects.exists() and not Response.objects.exists()
    [withdrawal] = Withdrawal.objects.all()
    assert "p1" not in withdrawal.id_digest and len(withdrawal.id_digest) == 64
    with pytest.raises(StudyUnavailable) as refused:
        participant_enter(experiment=experiment, external_id="p1")
    assert refused.value.reason == "withdrawn"
    page = client.get(reverse("experiment:enter", args=["study"]), {"PROLIFIC_PID": "p1"})
    assert b"You have withdrawn from this study" in page.content
    assert not Participant.objects.exists()
    assert participant_enter(experiment=experiment, external_id="p2").external_id == "p2"


def test_a_withdrawn_id_is_refused_in_any_letter_case(participant):
    experiment = participant.experiment
    participant.external_id = "A3WORKER"
    participant.save(update_fields=["external_id"])  # its key follows
    participants_withdraw(participants=[participant])
    for variant in ("A3WORKER", "a3worker", "A3Worker"):
        with pytest.raises(StudyUnavailable):
            participant_enter(experiment=experiment, external_id=variant)


def test_a_withdrawal_stored_before_letter_case_was_ignored_still_refuses_its_id(participant):
    """Digests stored before were of the id as typed."""
    experiment = participant.experiment
    Withdrawal.objects.create(
        experiment=experiment, id_digest=external_id_digest("A3OLD", key=pseudonym_key())
    )
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=experiment, external_id="A3OLD")


def test_deleting_in_the_admin_withdraws_and_deleting_the_withdrawal_lets_them_in(
    staff_client,  # noqa: F811
    participant,
):
    experiment = participant.experiment
    staff_client.post(
        reverse("admin:experiment_participant_delete", args=[participant.id]), {"post": "yes"}
    )
    [withdrawal] = Withdrawal.objects.all()
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=experiment, external_id="p1")
    staff_client.post(
        reverse("admin:experiment_withdrawal_delete", args=[withdrawal.id]), {"post": "yes"}
    )
    assert participant_enter(experiment=experiment, external_id="p1").external_id == "p1"


def test_deleting_a_participant_with_answers_says_earlier_reports_and_exports_must_be_redone(
    staff_client,  # noqa: F811
    participant,
):
    """Report folders and CSV files written before still hold their id and answers."""
    answer(participant, 0)
    page = staff_client.post(
        reverse("admin:experiment_participant_delete", args=[participant.id]),
        {"post": "yes"},
        follow=True,
    ).content.decode()
    assert "and responses and participants CSV files exported before it" in page
    assert "still hold the answers of the 1 deleted participant(s)" in page
    assert "run analyze_ratings again for each such report folder" in page
    assert "delete those CSV files and export again" in page


def test_deleting_a_pilot_run_or_a_visitor_who_never_consented_records_nothing(
    staff_client,  # noqa: F811
    participant,
):
    experiment = participant.experiment
    visitor = participant_enter(experiment=experiment, external_id="just-looking")
    pilot = participant_pilot_create(experiment=experiment, by="boss")
    changelist = reverse("admin:experiment_participant_changelist")
    staff_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [visitor.id, pilot.id], "post": "yes"},
    )
    assert not Participant.objects.filter(id__in=[visitor.id, pilot.id]).exists()
    assert not Withdrawal.objects.exists()
    assert participant_enter(experiment=experiment, external_id="just-looking")


def test_the_withdrawals_page_finds_a_withdrawal_by_the_external_id(
    staff_client,  # noqa: F811
    participant,
):
    """Only digests are stored: the search computes the id's, in either form stored."""
    experiment = participant.experiment
    worker = participant_enter(experiment=experiment, external_id="A3WORKER")
    participant_consent(participant=worker)
    participants_withdraw(participants=[participant, worker])
    old_form = Withdrawal.objects.create(
        experiment=experiment, id_digest=external_id_digest("A3OLD", key=pseudonym_key())
    )
    url = reverse("admin:experiment_withdrawal_changelist")
    page = staff_client.get(url)
    assert "An external id (Prolific PID, MTurk worker id" in page.content.decode()
    found = {
        term: {w.id for w in staff_client.get(url, {"q": term}).context["cl"].result_list}
        for term in ("p1", " a3worker ", "A3OLD", "A3", "nobody")
    }
    worker_withdrawal = Withdrawal.objects.exclude(id=old_form.id).get(
        id_digest__in=withdrawal_digests("A3WORKER")
    )
    assert found["A3OLD"] == {old_form.id}
    assert found[" a3worker "] == {worker_withdrawal.id}
    assert len(found["p1"]) == 1 and found["p1"] != found[" a3worker "]
    assert found["A3"] == found["nobody"] == set()


def test_searching_withdrawals_on_a_site_without_any_makes_no_pseudonym_key(
    staff_client,  # noqa: F811
    settings,
    tmp_path,
):
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path
    url = reverse("admin:experiment_withdrawal_changelist")
    assert staff_client.get(url, {"q": "p1"}).context["cl"].result_count == 0
    assert not (tmp_path / "pseudonym-key").exists()


def test_the_admins_log_keeps_no_id_of_a_deleted_participant(
    staff_client,  # noqa: F811
    participant,
):
    """Its entries name objects as str(participant), which holds the external id."""
    experiment = participant.experiment
    other = participant_enter(experiment=experiment, external_id="A3SECRET")
    change = reverse("admin:experiment_participant_change", args=[participant.id])
    form = staff_client.get(change).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    staff_client.post(change, data | {"feedback": "noted"})
    staff_client.post(
        reverse("admin:experiment_participant_delete", args=[participant.id]), {"post": "yes"}
    )
    staff_client.post(
        reverse("admin:experiment_participant_changelist"),
        {"action": "delete_selected", "_selected_action": [other.id], "post": "yes"},
    )
    entries = LogEntry.objects.order_by("pk")
    assert [e.action_flag for e in entries] == [CHANGE, DELETION, DELETION]
    assert [e.object_repr for e in entries] == [
        f"participant {participant.id} (deleted)",
        f"participant {participant.id} (deleted)",
        f"participant {other.id} (deleted)",
    ]
    staff_client.get(reverse("admin:experiment_participant_changelist"))  # shows the messages
    page = staff_client.get(reverse("admin:index")).content.decode()  # "Recent actions"
    assert "Recent actions" in page
    assert "p1" not in page and "A3SECRET" not in page
