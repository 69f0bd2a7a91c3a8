"""MTurk ExternalQuestion HITs: the HIT page in MTurk's frame, its status checks, submission."""

import csv
import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from config.settings import env_origins
from experiment.export import participants_csv_write
from experiment.models import Experiment, Participant
from experiment.mturk import PREVIEW_ASSIGNMENT_ID
from experiment.services import participants_mturk_assignment_release
from tests.experiment.test_views import (
    answer_no,
    consented,
    post_answer,
    study_make,
    url,
)

HIT = "/study/demo/mturk/"
MTURK = "https://www.mturk.com/"


def accepted(worker: str = "W1", assignment: str = "A1", submit_to: str = MTURK) -> dict:
    return {
        "assignmentId": assignment,
        "hitId": "H1",
        "workerId": worker,
        "turkSubmitTo": submit_to,
    }


@pytest.fixture
def study(tmp_path, db):
    return study_make(tmp_path, practice_trials=2, completion_url="https://example.org/done")


def complete_study(client: Client, participant: Participant) -> None:
    """Consent and answer every trial, as the study's tab does."""
    assert client.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
    participant.refresh_from_db()
    for index in range(len(participant.trial_order)):
        assert post_answer(client, participant, **answer_no(participant, index)).status_code == 200


def test_preview_describes_the_task_and_stores_nothing(client, study):
    reply = client.get(HIT, {"assignmentId": PREVIEW_ASSIGNMENT_ID, "hitId": "H1"})
    page = reply.content.decode()
    assert reply.status_code == 200
    assert "Accept the HIT to begin" in page
    assert "It takes about 5 minutes" in page  # 2 practice trials and lists of 3 panels
    assert 'id="hit-form"' not in page
    assert not Participant.objects.exists()


def test_a_hit_linking_to_no_study_says_so_in_mturks_frame(client, db):
    reply = client.get("/study/no-such-study/mturk/", {"assignmentId": "A1", "workerId": "W1"})
    assert reply.status_code == 404
    assert "does not exist on this site" in reply.content.decode()
    assert "frame-ancestors" in reply["Content-Security-Policy"]  # shown, not a refused frame
    assert "X-Frame-Options" not in reply


def test_preview_of_a_full_or_closed_study_asks_workers_not_to_accept(client, study):
    experiment = study.experiment
    experiment.participants_per_list = 1
    experiment.save()
    for worker in ("W1", "W2"):  # one per list: the study is full
        assert client.get(HIT, accepted(worker, f"A{worker}")).status_code == 200
    page = client.get(HIT, {"assignmentId": PREVIEW_ASSIGNMENT_ID}).content.decode()
    assert "This study is full" in page and "Please do not accept this HIT" in page
    experiment.is_open = False
    experiment.save()
    page = client.get(HIT, {"assignmentId": PREVIEW_ASSIGNMENT_ID}).content.decode()
    assert "This study is closed" in page


def test_accepted_hit_enters_the_worker_and_links_to_the_study(client, study):
    reply = client.get(HIT, accepted(), HTTP_USER_AGENT="Firefox")
    page = reply.content.decode()
    participant = Participant.objects.get()
    assert (participant.external_id, participant.mturk_assignment_id) == ("W1", "A1")
    assert (participant.mturk_hit_id, participant.user_agent) == ("H1", "Firefox")
    assert participant.trial_list is not None
    assert f'href="{url(participant, "home")}"' in page and 'target="_blank"' in page
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in page
    assert 'name="assignmentId" value="A1"' in page
    assert 'aria-describedby="hit-status" disabled>' in page
    assert study.experiment.completion_code not in page  # not before the study is done


def test_hit_page_may_be_framed_by_mturk_only_and_study_pages_by_nobody(client, study):
    reply = client.get(HIT, accepted())
    assert "X-Frame-Options" not in reply.headers
    policy = reply.headers["Content-Security-Policy"]
    assert policy.startswith("frame-ancestors 'self' ")
    assert "https://worker.mturk.com" in policy and "https://workersandbox.mturk.com" in policy
    participant = Participant.objects.get()
    for name in ("home", "consent", "status"):
        assert client.get(url(participant, name)).headers["X-Frame-Options"] == "DENY"
    assert client.get("/study/demo/", {"participant": "x"}).headers["X-Frame-Options"] == "DENY"


def test_status_says_when_the_participant_has_completed(client, study):
    client.get(HIT, accepted())
    participant = Participant.objects.get()
    assert client.get(url(participant, "status")).json() == {
        "completed": False,
        "completion_code": "",
        "mturk_assignment_id": "A1",
    }
    complete_study(client, participant)
    assert client.get(url(participant, "status")).json() == {
        "completed": True,
        "completion_code": study.experiment.completion_code,
        "mturk_assignment_id": "A1",
    }
    forged = url(participant, "status").replace(participant.token, "x" * 43)
    assert client.get(forged).status_code == 404


def test_after_completion_the_hit_can_be_submitted_and_the_study_does_not_redirect(client, study):
    client.get(HIT, accepted())
    participant = Participant.objects.get()
    complete_study(client, participant)
    done = client.get(url(participant, "complete")).content.decode()
    assert "Submit HIT" in done and "http-equiv" not in done  # no Prolific-style redirect
    page = client.get(HIT, accepted()).content.decode()
    assert 'aria-describedby="hit-status">' in page  # enabled
    assert f'value="{study.experiment.completion_code}"' in page


def test_a_new_assignment_replaces_the_old_until_consent(client, study):
    """A worker who returned the HIT before starting and accepted it again (or holds two HITs
    of the study) submits the latest: the status tells the older HIT's page that it no longer
    counts."""
    client.get(HIT, accepted(assignment="A1"))
    client.get(HIT, accepted(assignment="A2"))
    participant = Participant.objects.get()
    assert participant.mturk_assignment_id == "A2"
    complete_study(client, participant)
    assert client.get(url(participant, "status")).json()["mturk_assignment_id"] == "A2"
    page = client.get(HIT, accepted(assignment="A3")).content.decode()
    assert "You have already taken part" in page and 'id="hit-form"' not in page
    assert "worker ID, W1" in page
    participant.refresh_from_db()
    assert participant.mturk_assignment_id == "A2"


def test_another_assignment_cannot_take_over_a_worker_who_consented(client, study, admin_client):
    """Worker ids are no secret: someone who accepts the HIT and writes a participant's worker id
    into its address gets neither their study link nor their place and payment."""
    client.get(HIT, accepted(assignment="A1"))
    participant = Participant.objects.get()
    assert client.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
    reply = Client().get(HIT, accepted(assignment="A2"))
    page = reply.content.decode()
    assert reply.status_code == 400 and "already started this study under another" in page
    assert participant.token not in page and 'id="hit-form"' not in page
    participant.refresh_from_db()
    assert participant.mturk_assignment_id == "A1"
    # The worker returned A1 and wrote to the researcher, who checked A2 on MTurk.
    changelist = "/admin/experiment/participant/"
    action = {"action": "release_mturk_assignment", "_selected_action": [participant.id]}
    assert (
        "Released the MTurk assignment of 1 worker"
        in admin_client.post(changelist, action, follow=True).content.decode()
    )
    assert participant.token in client.get(HIT, accepted(assignment="A2")).content.decode()
    participant.refresh_from_db()
    assert participant.mturk_assignment_id == "A2"


def test_a_released_worker_who_finishes_in_the_open_tab_is_not_sent_to_the_completion_url(
    client, study
):
    """Released (they returned A1 and took the HIT again as A2), the worker finishes in the
    study tab still open, before opening A2's page: they must not be sent to the completion
    URL (Prolific's). No HIT page claims their work then: anyone could open one with their
    worker id; the researcher pays them another way (docs)."""
    client.get(HIT, accepted(assignment="A1"))
    participant = Participant.objects.get()
    assert client.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
    participants_mturk_assignment_release(participants=[participant])
    participant.refresh_from_db()
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    page = client.get(url(participant, "complete")).content.decode()
    assert "example.org/done" not in page
    assert 'id="hit-form"' not in Client().get(HIT, accepted(assignment="A3")).content.decode()
    participant.refresh_from_db()
    assert (participant.mturk_assignment_id, participant.status) == ("", "completed")


def test_a_participant_goes_on_only_through_the_site_they_entered_by(client, study):
    prolific = {"PROLIFIC_PID": "5f3c9a", "STUDY_ID": "S1", "SESSION_ID": "X1"}
    participant = consented(client, **prolific)
    reply = client.get(HIT, accepted(worker="5f3c9a"))
    assert reply.status_code == 400 and "through Prolific, not MTurk" in reply.content.decode()
    assert participant.token not in reply.content.decode()
    participant.refresh_from_db()
    assert participant.mturk_assignment_id == ""
    client.get(HIT, accepted(worker="W7"))
    reply = client.get("/study/demo/", {"PROLIFIC_PID": "W7", "SESSION_ID": "X2"})
    assert reply.status_code == 400 and "through an MTurk HIT" in reply.content.decode()
    assert Participant.objects.get(external_id="W7").prolific_session_id == ""


@pytest.mark.parametrize("id_name", ["workerId", "participant", "PROLIFIC_PID"])
def test_nobody_takes_over_a_hits_worker_through_the_study_link(client, study, id_name):
    """Worker ids are no secret: the study link with one must not lead to that worker's page,
    before or after they consented, nor change their assignment."""
    victim = Client()
    page = victim.get(HIT, accepted(worker="W1", assignment="A1")).content.decode()
    participant = Participant.objects.get(external_id="W1")
    assert participant.token in page
    for consent in (False, True):
        if consent:
            assert victim.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
        reply = client.get("/study/demo/", {id_name: "W1"})
        page = reply.content.decode()
        assert reply.status_code == 400 and "go on from that HIT" in page
        assert participant.token not in page
    participant.refresh_from_db()
    assert (participant.mturk_assignment_id, participant.prolific_session_id) == ("A1", "")
    assert (
        participant.token
        in victim.get(HIT, accepted(worker="W1", assignment="A1")).content.decode()
    )
    # Released for a new assignment (the id is empty until their next HIT page): still refused.
    participants_mturk_assignment_release(participants=[participant])
    assert client.get("/study/demo/", {id_name: "W1"}).status_code == 400


def test_a_completed_participant_cannot_count_again_for_another_prolific_study(client, study):
    first = {"PROLIFIC_PID": "5f3c9a", "STUDY_ID": "S1", "SESSION_ID": "X1"}
    participant = consented(client, **first)
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    reply = client.get("/study/demo/", first | {"STUDY_ID": "S2", "SESSION_ID": "X2"})
    page = reply.content.decode()
    assert reply.status_code == 400 and "through another Prolific study" in page
    assert study.experiment.completion_code not in page and participant.token not in page
    assert client.get("/study/demo/", first).status_code == 302  # the first study's link still
    participant.refresh_from_db()
    assert (participant.prolific_study_id, participant.prolific_session_id) == ("S1", "X1")


def test_ids_are_not_changed_once_the_participant_completed_meanwhile(client, study):
    from experiment.services.participants import participant_visit_ids_update

    client.get(HIT, accepted(assignment="A1"))
    stale = Participant.objects.get()  # read in progress, then they completed
    Participant.objects.filter(id=stale.id).update(status=Participant.Status.COMPLETED)
    participant_visit_ids_update(participant=stale, visit_ids={"mturk_hit_id": "H9"})
    assert Participant.objects.get().mturk_hit_id == "H1"


def test_mturks_own_values_win_over_ones_written_into_the_external_url(client, study):
    """MTurk appends its parameters to the ExternalURL: a name given twice counts by the last."""
    query = (
        "workerId=FORGED&turkSubmitTo=https://evil.example"
        "&assignmentId=A1&hitId=H1&workerId=W1&turkSubmitTo=https://www.mturk.com/"
    )
    page = client.get(f"{HIT}?{query}").content.decode()
    assert Participant.objects.get().external_id == "W1"
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in page


def test_a_worker_who_completed_through_the_study_link_cannot_take_a_hit(client, study):
    participant = consented(client, workerId="W1")
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    page = client.get(HIT, accepted()).content.decode()
    assert "You have already taken part" in page


@pytest.mark.parametrize("query", [{"workerId": "W1"}, {"PROLIFIC_PID": "W1"}])
def test_nobody_takes_over_a_study_link_participant_through_a_hit(client, study, query):
    """A HIT page with someone's worker id (or a Prolific id that came without Prolific's
    other ids) must not turn their study into the HIT's, nor lock them out of it."""
    participant = consented(client, **query)
    post_answer(client, participant, **answer_no(participant, 0))
    reply = Client().get(HIT, accepted())
    assert reply.status_code == 400
    assert "through its study link, not an MTurk HIT" in reply.content.decode()
    assert participant.token not in reply.content.decode()
    participant.refresh_from_db()
    assert (participant.mturk_assignment_id, participant.mturk_hit_id) == ("", "")
    assert client.get("/study/demo/", query).status_code == 302


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "needs the assignmentId"),
        ({"assignmentId": "A1", "turkSubmitTo": MTURK}, "no workerId"),
        (accepted(submit_to="https://evil.example/"), "which is not MTurk"),
        (accepted(submit_to="https://www.mturk.com/elsewhere"), "which is not MTurk"),
        (accepted(submit_to=""), "submitted to nothing"),
        (accepted(submit_to="https://[::1"), "which is not MTurk"),
        (accepted(assignment="A" * 201), "assignmentId is not an MTurk id"),
        (accepted(worker="W\x001"), "workerId is not an MTurk id"),
        (accepted(worker="W 1"), "workerId is not an MTurk id"),
        (accepted(assignment="<script>"), "assignmentId is not an MTurk id"),
    ],
)
def test_bad_hit_links_are_refused_with_a_reason_and_store_nothing(client, study, query, message):
    reply = client.get(HIT, query)
    assert reply.status_code == 400
    assert message in reply.content.decode()
    assert not Participant.objects.exists()


def test_a_full_or_closed_study_tells_a_worker_who_accepted_to_return_the_hit(client, study):
    study.experiment.participants_per_list = 1
    study.experiment.save()
    client.get(HIT, accepted("W1", "A1"))
    client.get(HIT, accepted("W2", "A2"))
    page = client.get(HIT, accepted("W3", "A3")).content.decode()
    assert "This study is full" in page and "Please return this HIT" in page
    study.experiment.is_open = False
    study.experiment.save()
    page = client.get(HIT, accepted("W4", "A4")).content.decode()
    assert "This study is closed" in page and "Please return this HIT" in page
    assert set(Participant.objects.values_list("external_id", flat=True)) == {"W1", "W2"}


def test_a_withdrawn_worker_is_told_their_answers_went_with_them(client, study):
    from experiment.services import participants_withdraw

    client.get(HIT, accepted())
    participant = Participant.objects.get()
    assert client.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
    post_answer(client, participant, **answer_no(participant, 0))
    participant.refresh_from_db()
    participants_withdraw(participants=[participant])
    page = client.get(HIT, accepted(assignment="A2")).content.decode()
    assert "You have withdrawn from this study" in page
    assert "Your answers were deleted with your withdrawal" in page
    assert "You have not rated anything" not in page


def test_sandbox_submissions_go_to_the_sandbox(client, study):
    page = client.get(HIT, accepted(submit_to="https://workersandbox.mturk.com")).content.decode()
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in page


def test_participants_export_names_the_assignment_to_approve(client, study):
    client.get(HIT, accepted())
    stream = io.StringIO()
    participants_csv_write(experiment=study.experiment, stream=stream)
    row = next(csv.DictReader(io.StringIO(stream.getvalue())))
    assert (row["external_id"], row["mturk_assignment_id"], row["mturk_hit_id"]) == (
        "W1",
        "A1",
        "H1",
    )


def test_origin_settings_refuse_what_is_not_an_origin(monkeypatch):
    """They go into a Content-Security-Policy header: a stray ";" would add a directive."""
    monkeypatch.setenv("MTURK_FRAME_ANCESTORS", "https://a.example, http://127.0.0.1:8000")
    assert env_origins("MTURK_FRAME_ANCESTORS", "") == [
        "https://a.example",
        "http://127.0.0.1:8000",
    ]
    for bad in ("https://a.example; script-src *", "a.example", "https://a.example/path"):
        monkeypatch.setenv("MTURK_FRAME_ANCESTORS", bad)
        with pytest.raises(ImproperlyConfigured, match="must list origins such as"):
            env_origins("MTURK_FRAME_ANCESTORS", "")


def test_preview_of_a_study_without_lists_says_it_is_not_ready(client, tmp_path, db):
    experiment = Experiment.objects.create(slug="bare", title="Bare")
    page = client.get(f"/study/{experiment.slug}/mturk/", {"assignmentId": PREVIEW_ASSIGNMENT_ID})
    assert "This study is not ready yet" in page.content.decode()
    assert "Please do not accept this HIT" in page.content.decode()


def test_a_study_link_participant_from_before_entries_were_recorded_is_not_taken_over(
    client, study
):
    participant = consented(client, participant="W1")
    Participant.objects.filter(id=participant.id).update(entry="")  # as migration 0008 left it
    reply = Client().get(HIT, accepted())
    assert reply.status_code == 400 and participant.token not in reply.content.decode()
