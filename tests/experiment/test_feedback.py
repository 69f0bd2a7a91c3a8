"""The completion page's optional comment: stored for who has finished, then on to the
recruitment site."""

import pytest

from experiment.models import Participant
from experiment.services import AnswerInvalid, participant_feedback_save
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
    assert 'data-seconds="5"' in page and "experiment/complete.js" in page
    assert '<noscript><meta http-equiv="refresh" content="5;url=https://app.prolific.com' in page
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
    page = reply.content.decode()
    assert reply.status_code == 200 and "your comment has been saved" in page
    assert ">fine</textarea>" in page
    client.post(url(participant, "complete"), {"feedback": "fine, thanks"})  # replaces it
    assert Participant.objects.get(id=participant.id).feedback == "fine, thanks"


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


def test_a_comment_loses_nul_characters(client, prolific_study):
    participant = finished(client)
    participant_feedback_save(participant=participant, text="a\x00b")
    assert Participant.objects.get(id=participant.id).feedback == "ab"
    with pytest.raises(AnswerInvalid, match="must be text"):
        participant_feedback_save(participant=participant, text=["list"])
