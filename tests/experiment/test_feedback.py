"""The completion page's optional comment: stored for who has finished, then on to the
recruitment site."""

import pytest
from django.test import Client
from django.urls import reverse

from experiment.models import Participant
from experiment.services import (
    AnswerInvalid,
    participant_consent,
    participant_feedback_save,
    participant_pilot_create,
)
from tests.experiment.test_responses import answer
from tests.experiment.test_views import answer_no, consented, post_answer, study_make, url


def finished(client) -> Participant:
    participant = consented(client)
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    participant.refresh_from_db()
    return participant


@pytest.fixture
def prolific_study(tmp_path, db):
    return study_make(tmp_path, completion_url="https://app.prolific.com/submissions/complete?cc=X")


def test_the_completion_page_counts_down_and_offers_a_comment_box(client, prolific_study):
    page = client.get(url(finished(client), "complete")).content.decode()
    assert 'data-seconds="20"' in page and "experiment/complete.js" in page
    assert '<noscript><meta http-equiv="refresh" content="20;url=https://app.prolific.com' in page
    assert 'name="feedback"' in page and "Send and return" in page


def test_a_comment_is_saved_and_the_participant_goes_back_to_the_recruitment_site(
    client, prolific_study
):
    participant = finished(client)
    reply = client.post(url(participant, "complete"), {"feedback": "  Panel 3 was blank.\r\n "})
    assert reply.status_code == 302
    assert reply.url == "https://app.prolific.com/submissions/complete?cc=X"
    participant.refresh_from_db()
    assert participant.feedback == "Panel 3 was blank."


def test_without_a_completion_url_the_page_says_the_comment_was_saved(client, tmp_path, db):
    study_make(tmp_path)
    participant = finished(client)
    reply = client.post(url(participant, "complete"), {"feedback": "fine"})
    assert reply.url == url(participant, "complete") + "?saved=1"  # a reload sends nothing
    page = client.get(reply.url).content.decode()
    assert "your comment has been saved" in page and ">fine</textarea>" in page
    client.post(url(participant, "complete"), {"feedback": "fine, thanks"})  # replaces it
    assert Participant.objects.get(id=participant.id).feedback == "fine, thanks"


def test_mturk_workers_and_pilot_runs_are_not_sent_to_the_completion_url(client, prolific_study):
    mturk = finished(client)
    Participant.objects.filter(id=mturk.id).update(mturk_assignment_id="A1")
    pilot = participant_pilot_create(experiment=prolific_study.experiment, by="boss")
    participant_consent(participant=pilot)
    for index in range(len(pilot.trial_order)):
        answer(pilot, index)
    for participant in (mturk, pilot):
        page = client.get(url(participant, "complete")).content.decode()
        assert "prolific.com" not in page and "complete.js" not in page
        reply = client.post(url(participant, "complete"), {"feedback": "ok"})
        assert reply.url == url(participant, "complete") + "?saved=1"


def test_an_empty_comment_goes_straight_back_to_the_recruitment_site(client, prolific_study):
    participant = finished(client)
    reply = client.post(url(participant, "complete"), {"feedback": ""})
    assert reply.url == "https://app.prolific.com/submissions/complete?cc=X"


def test_the_comment_form_needs_the_csrf_token_and_shows_text_as_text(client, prolific_study):
    participant = finished(client)
    strict = Client(enforce_csrf_checks=True)
    strict.get(url(participant, "complete"))  # the page sets the CSRF cookie
    assert strict.post(url(participant, "complete"), {"feedback": "x"}).status_code == 403
    token = strict.cookies["csrftoken"].value
    text = "</textarea><script>alert(1)</script>"
    reply = strict.post(
        url(participant, "complete"), {"feedback": text, "csrfmiddlewaretoken": token}
    )
    assert reply.status_code == 302
    page = strict.get(url(participant, "complete")).content.decode()
    assert "&lt;/textarea&gt;&lt;script&gt;" in page and "<script>alert" not in page


def test_an_overlong_comment_is_refused_with_the_text_kept_and_no_redirect(client, prolific_study):
    participant = finished(client)
    reply = client.post(url(participant, "complete"), {"feedback": "x" * 2001})
    page = reply.content.decode()
    assert reply.status_code == 400
    assert "The comment is 2001 characters long; please keep it to 2000." in page
    assert "x" * 2001 in page and "complete.js" not in page and "http-equiv" not in page
    assert Participant.objects.get(id=participant.id).feedback == ""


def test_only_who_has_finished_can_leave_a_comment(client, prolific_study):
    participant = consented(client)
    reply = client.post(url(participant, "complete"), {"feedback": "early"})
    assert reply.url == url(participant, "home")
    with pytest.raises(AnswerInvalid, match="once you have finished"):
        participant_feedback_save(participant=participant, text="early")
    assert Participant.objects.get(id=participant.id).feedback == ""


def test_a_comment_must_be_text_and_loses_nul_characters(client, prolific_study):
    participant = finished(client)
    participant_feedback_save(participant=participant, text="a\x00b")
    assert Participant.objects.get(id=participant.id).feedback == "ab"
    with pytest.raises(AnswerInvalid, match="must be text"):
        participant_feedback_save(participant=participant, text=["list"])


def test_the_progress_page_points_to_the_comments(client, prolific_study, django_user_model):
    participant = finished(client)
    participant_feedback_save(participant=participant, text="Panel 3 was blank.")
    staff = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-12345")
    client.force_login(staff)
    experiment = participant.experiment
    page = client.get(reverse("admin:experiment_experiment_progress", args=[experiment.id]))
    link = f"?experiment__id__exact={experiment.id}&amp;feedback__isempty=0"
    assert f'{link}">1 comment</a>' in page.content.decode()
    listed = client.get(
        reverse("admin:experiment_participant_changelist") + link.replace("&amp;", "&")
    )
    assert participant.external_id in listed.content.decode()
