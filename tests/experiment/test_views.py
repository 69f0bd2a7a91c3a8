"""The participant pages and the answer endpoint, through Django's test client."""

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from experiment import views
from experiment.models import Experiment, Participant, Response
from experiment.services import experiment_lists_build, panel_register, participant_enter


@dataclass
class Study:
    """A small experiment made by study_make."""

    experiment: Experiment


def panel_file(folder: Path, name: str, shade: int) -> Path:
    """A small real image file to import: a 10x10 grid of tinted tiles."""
    path = folder / f"{name}.png"
    image = Image.new("RGB", (200, 200), (shade, 255 - shade, 128))
    for row in range(10):
        for column in range(10):
            tint = ((shade + 37 * row) % 256, (91 * column) % 256, (shade * column + row) % 256)
            image.paste(tint, (20 * column + 2, 20 * row + 2, 20 * column + 18, 20 * row + 18))
    image.save(path)
    return path


def study_make(
    folder: Path, *, slug: str = "demo", lists: int = 2, main: int = 4, **fields
) -> Study:
    """Register 2 practice and `main` main panels through the real services; build the lists."""
    experiment = Experiment.objects.create(slug=slug, title="Rating images", **fields)
    for number in range(2):
        panel_register(
            experiment=experiment,
            image_path=panel_file(folder, f"practice{number}", 40 * number),
            source=f"practice{number}.png",
            is_practice=True,
            intended_answer="yes" if number == 0 else "no",
            intended_label="digits" if number == 0 else "",
        )
    for unit in range(main):
        panel_register(
            experiment=experiment,
            image_path=panel_file(folder, f"fc8_{unit}", 50 * unit),
            source=f"fc8_{unit}.png",
            network="alexnet",
            layer="fc8",
            unit=unit,
        )
    experiment_lists_build(experiment=experiment, lists=lists, seed=1)
    return Study(experiment)


@pytest.fixture
def study(tmp_path, db) -> Study:
    return study_make(tmp_path, practice_trials=2)


def url(participant: Participant, name: str) -> str:
    kwargs = {"slug": participant.experiment.slug, "token": participant.token}
    return reverse(f"experiment:{name}", kwargs=kwargs)


def enter(client: Client, slug: str = "demo", **query) -> Participant:
    """Arrive through the entry URL and return the participant it made."""
    reply = client.get(f"/study/{slug}/", query)
    assert reply.status_code == 302, reply.content
    return Participant.objects.get(token=reply.url.split("/p/")[1].strip("/"))


def consented(client: Client, **query) -> Participant:
    participant = enter(client, **(query or {"participant": "p1"}))
    assert client.post(url(participant, "consent"), {"consent": "yes"}).status_code == 302
    participant.refresh_from_db()
    return participant


def post_answer(client: Client, participant: Participant, **answer):
    return client.post(
        url(participant, "answer"), json.dumps(answer), content_type="application/json"
    )


def answer_no(participant: Participant, index: int) -> dict:
    return {
        "trial_index": index,
        "panel_id": participant.trial_order[index],
        "q1": "no",
        "q2": None,
        "q3": "",
        "response_ms": 1200,
    }


def test_entry_with_prolific_ids_redirects_to_a_token_url(client, study):
    """Prolific's PROLIFIC_PID, STUDY_ID and SESSION_ID are stored; the URL carries the token."""
    query = {"PROLIFIC_PID": "abc123", "STUDY_ID": "s1", "SESSION_ID": "x9"}
    participant = enter(client, **query)
    assert (participant.external_id, participant.prolific_study_id) == ("abc123", "s1")
    assert participant.prolific_session_id == "x9"
    assert len(participant.token) >= 32


def test_same_external_id_returns_to_the_same_participant(client, study):
    first = enter(client, participant="same")
    assert enter(client, participant="same").id == first.id
    prolific = enter(client, PROLIFIC_PID="5f1e2d3c4b5a69788796a5b4")
    # A Prolific PID is no one else's to know: another browser (a second device) goes on.
    assert enter(Client(), PROLIFIC_PID="5f1e2d3c4b5a69788796a5b4").id == prolific.id
    assert Participant.objects.count() == 2


@pytest.mark.parametrize("parameter", ["participant", "workerId"])
def test_an_id_others_may_know_goes_on_only_in_the_browser_it_started_in(study, parameter):
    """Worker ids are no secret, nor are ids typed in: someone else's browser with the same
    id must not reach that participant's study page."""
    owner = Client()
    participant = enter(owner, **{parameter: "A1PUBLICWORKER"})
    owner.post(url(participant, "consent"), {"consent": "yes"})
    reply = Client().get("/study/demo/", {parameter: "A1PUBLICWORKER"})
    assert reply.status_code == 400
    assert b"already started the study in another browser" in reply.content
    assert participant.token.encode() not in reply.content
    # Nor in another letter case (a new participant, in another list, before).
    assert Client().get("/study/demo/", {parameter: "a1publicworker"}).status_code == 400
    forged = Client()
    forged.cookies[views.browser_cookie_name(study.experiment)] = participant.token  # unsigned
    assert forged.get("/study/demo/", {parameter: "A1PUBLICWORKER"}).status_code == 400
    assert enter(owner, **{parameter: "A1PUBLICWORKER"}).id == participant.id
    cookie = owner.cookies[views.browser_cookie_name(study.experiment)]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_entry_without_an_id_asks_for_one_and_creates_nothing(client, study):
    reply = client.get("/study/demo/")
    assert reply.status_code == 200
    assert b"participant ID is missing" in reply.content
    assert Participant.objects.count() == 0


def test_pages_tell_browsers_there_is_no_icon_to_fetch(client, study):
    assert b'<link rel="icon" href="data:,">' in client.get("/study/demo/").content


def test_overlong_id_is_refused_with_a_message(client, study):
    reply = client.get("/study/demo/", {"participant": "x" * 300})
    assert reply.status_code == 400
    assert b"longer than 200 characters" in reply.content
    assert Participant.objects.count() == 0
    page = reply.content.decode()  # the message is tied to the box, for screen readers
    assert 'aria-invalid="true" aria-describedby="participant-id-error"' in page
    assert 'id="participant-id-error"' in page
    assert "<title>This participant ID cannot be used – Rating images</title>" in page


def test_unknown_experiment_is_404(client, db):
    assert client.get("/study/nope/", {"participant": "a"}).status_code == 404


def test_full_study_shows_a_polite_page_and_creates_nothing(client, tmp_path, db):
    study_make(tmp_path, participants_per_list=1)
    enter(client, participant="a")
    enter(client, participant="b")
    reply = client.get("/study/demo/", {"participant": "c"})
    assert reply.status_code == 200
    assert b"This study is full" in reply.content
    assert Participant.objects.count() == 2


def test_closed_study_shows_a_polite_page(client, tmp_path, db):
    study_make(tmp_path, is_open=False)
    reply = client.get("/study/demo/", {"participant": "a"})
    assert b"This study is closed" in reply.content
    assert Participant.objects.count() == 0


def test_home_sends_a_new_participant_to_consent_then_instructions(client, study):
    participant = enter(client, participant="p1")
    assert client.get(url(participant, "home")).url == url(participant, "consent")
    assert client.get(url(participant, "trials")).url == url(participant, "consent")
    reply = client.post(url(participant, "consent"), {"consent": "yes"})
    assert reply.url == url(participant, "instructions")
    assert client.get(url(participant, "home")).url == url(participant, "trials")


def test_back_to_consent_from_the_instructions_stays_on_them_until_the_first_answer(client, study):
    participant = consented(client, participant="reader")
    assert client.get(url(participant, "consent")).url == url(participant, "instructions")
    post_answer(client, participant, **answer_no(participant, 0))
    assert client.get(url(participant, "consent")).url == url(participant, "home")


def test_declining_consent_keeps_nothing_about_the_person(client, study):
    participant = enter(client, PROLIFIC_PID="5f3c9a", STUDY_ID="S1", SESSION_ID="X1")
    reply = client.post(url(participant, "consent"), {"consent": "no"}, follow=True)
    assert reply.redirect_chain == [("/study/demo/declined/", 302)]
    assert b"Nothing about you has been kept" in reply.content
    assert not Participant.objects.filter(external_id="5f3c9a").exists()
    # Back to their consent page: gone, and the page says why it may be.
    back = client.get(url(participant, "consent"))
    assert back.status_code == 404
    assert b"chose not to take part" in back.content
    assert enter(client, PROLIFIC_PID="5f3c9a").consented_at is None  # they may change their mind


def test_instructions_show_the_three_questions_and_the_example(client, study):
    participant = consented(client)
    page = client.get(url(participant, "instructions")).content.decode()
    assert "Can you identify multiple examples of an everyday object, place or animal?" in page
    assert (
        "You answered &#x27;Yes&#x27;. Indicate what percentage of people you think would also "
        "answer &#x27;Yes&#x27;" in page
    )
    assert "Please write which everyday object, place or animal you were referring to" in page
    assert 'value="digits"' in page  # the practice panel's intended label as the example answer
    assert "2 practice trials" in page


def test_the_example_is_a_practice_panel_the_participant_will_not_rate(client, study, tmp_path):
    panel_register(
        experiment=study.experiment,
        image_path=panel_file(tmp_path, "spare", 99),
        source="spare.png",
        is_practice=True,
        intended_answer="yes",
        intended_label="letters",
    )
    Experiment.objects.filter(id=study.experiment.id).update(practice_trials=1)
    participant = consented(client)  # rates 1 of the 3 practice panels, 2 of them "yes"
    page = client.get(url(participant, "instructions")).content.decode()
    yes = study.experiment.panels.filter(is_practice=True, intended_answer="yes")
    (unused, *_) = yes.exclude(id__in=participant.trial_order).order_by("id")
    assert unused.display_image.url in page
    assert f'value="{unused.intended_label}"' in page


def test_trial_page_lists_every_trial_in_the_stored_order(client, study):
    participant = consented(client)
    page = client.get(url(participant, "trials"))
    assert page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    embedded = html.split('<script id="study-state" type="application/json">')[1]
    state = json.loads(embedded.split("</script>")[0])
    assert [t["panelId"] for t in state["trials"]] == participant.trial_order
    assert [t["practice"] for t in state["trials"]] == [True, True, False, False]
    assert all(t["display"].startswith("/media/") for t in state["trials"])
    # On a phone they are asked to go on on a larger screen: at their own page's address,
    # since the study link may be tied to this browser.
    notice = html.split('id="study-address"')[1].split("</")[0]
    assert f"http://testserver{url(participant, 'home')}" in notice


def test_answers_are_stored_and_the_last_one_completes(client, study):
    participant = consented(client)
    for index in range(len(participant.trial_order)):
        reply = post_answer(client, participant, **answer_no(participant, index))
        assert reply.status_code == 200, reply.content
    assert reply.json()["completed"] is True
    assert Response.objects.filter(participant=participant).count() == 4
    page = client.get(url(participant, "complete"))
    assert participant.experiment.completion_code.encode() in page.content


def test_a_yes_answer_stores_the_bin_and_two_labels(client, study):
    participant = consented(client)
    answer = answer_no(participant, 0) | {"q1": "yes", "q2": 4, "q3": "fish; boat "}
    assert post_answer(client, participant, **answer).status_code == 200
    stored = Response.objects.get(participant=participant)
    assert (stored.q1_yes, stored.q2_bin, stored.q3_first, stored.q3_second) == (
        True,
        4,
        "fish",
        "boat",
    )


def test_sending_the_same_answer_twice_stores_it_once(client, study):
    participant = consented(client)
    for _ in range(3):
        assert post_answer(client, participant, **answer_no(participant, 0)).status_code == 200
    assert Response.objects.filter(participant=participant).count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"q1": None}, "Q1 is required"),
        ({"q1": "yes", "q2": None, "q3": "fish"}, "Q2 is required"),
        ({"q1": "yes", "q2": 5, "q3": "fish"}, "Q2 must be one of the bins"),
        ({"q1": "no", "q2": 2}, "After 'no'"),
        ({"q1": "no", "q3": "fish"}, "After 'no'"),
        ({"q1": "yes", "q2": 1, "q3": ""}, "Q3 is required"),
        ({"q1": "yes", "q2": 1, "q3": "a, b, c"}, "at most two"),
        ({"q1": "yes", "q2": 1, "q3": "x" * 150}, "at most 100 characters"),
        ({"panel_id": "12"}, "panel_id must be a whole number"),
        ({"trial_index": 99}, "There is no trial 99"),
        ({"response_ms": -1}, "response_ms"),
        ({"q1": "yes", "q2": 1, "q3": "\ud800fish"}, "not valid text"),
    ],
)
def test_invalid_answers_get_a_400_with_a_message_and_change_nothing(
    client, study, change, message
):
    participant = consented(client)
    reply = post_answer(client, participant, **(answer_no(participant, 0) | change))
    assert reply.status_code == 400
    assert message in reply.json()["error"]
    assert Response.objects.count() == 0


def test_answers_a_stale_page_sends_get_a_409_that_asks_for_a_reload(client, study):
    participant = consented(client)
    wrong_panel = answer_no(participant, 0) | {"panel_id": participant.trial_order[1]}
    reply = post_answer(client, participant, **wrong_panel)
    assert reply.status_code == 409 and "Reload the page" in reply.json()["error"]
    reply = post_answer(client, participant, **answer_no(participant, 1))
    assert reply.status_code == 409 and "Panel 1 comes before panel 2" in reply.json()["error"]
    assert Response.objects.count() == 0


def test_malformed_bodies_get_a_400_json_message(client, study):
    participant = consented(client)
    for body in [b"", b"not json", b"[1, 2]", b"{", b"[" * 5000, b"\xff\xfe"]:
        reply = client.post(url(participant, "answer"), body, content_type="application/json")
        assert reply.status_code == 400
        assert reply.json()["error"]


def test_a_panel_of_another_participants_list_is_refused(client, study):
    mine = consented(client, participant="me")
    other = consented(Client(), participant="other")
    foreign = next(p for p in other.trial_order if p not in mine.trial_order)
    answer = answer_no(mine, 2) | {"panel_id": foreign}
    assert post_answer(client, mine, **answer).status_code == 409  # only a reload can help
    assert Response.objects.count() == 0


def test_forged_or_other_experiment_tokens_are_404(client, study, tmp_path):
    participant = consented(client)
    (tmp_path / "other").mkdir()
    study_make(tmp_path / "other", slug="other")
    forged = {"slug": "demo", "token": "A" * 43}
    assert client.get(reverse("experiment:trials", kwargs=forged)).status_code == 404
    cross = {"slug": "other", "token": participant.token}
    assert client.get(reverse("experiment:trials", kwargs=cross)).status_code == 404
    reply = client.post(
        reverse("experiment:answer", kwargs=cross),
        json.dumps(answer_no(participant, 0)),
        content_type="application/json",
    )
    assert reply.status_code == 404
    assert Response.objects.count() == 0


def test_answers_without_the_csrf_token_are_refused(study):
    browser = Client(enforce_csrf_checks=True)
    participant = enter(browser, participant="p1")
    participant.consented_at = participant.started_at
    participant.save()
    reply = post_answer(browser, participant, **answer_no(participant, 0))
    assert reply.status_code == 403
    assert "allow cookies for this site" in reply.json()["error"]  # shown by the trial page
    assert Response.objects.count() == 0


def test_a_form_sent_without_the_cookie_gets_a_page_saying_what_to_do(study):
    """Cookies blocked or lost before "I agree": plain advice, not Django's technical page."""
    browser = Client(enforce_csrf_checks=True)
    participant = enter(browser, participant="p1")
    reply = browser.post(url(participant, "consent"), {"consent": "yes"})
    assert reply.status_code == 403
    page = " ".join(reply.content.decode().split())
    assert "Your browser did not send this site's cookie" in page
    assert "allow cookies for this site, then go back and reload the page" in page
    assert "CSRF" not in page
    participant.refresh_from_db()
    assert participant.consented_at is None


def test_csrf_token_from_the_trial_page_lets_answers_through(study):
    browser = Client(enforce_csrf_checks=True)
    participant = enter(browser, participant="p1")
    consent_page = browser.get(url(participant, "consent"))
    token = consent_page.context["csrf_token"]
    browser.post(url(participant, "consent"), {"consent": "yes", "csrfmiddlewaretoken": token})
    browser.get(url(participant, "trials"))
    reply = browser.post(
        url(participant, "answer"),
        json.dumps(answer_no(participant, 0)),
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert reply.status_code == 200


@pytest.mark.parametrize(
    ("query", "entry", "sent_back"),
    [
        ({"PROLIFIC_PID": "5f3c9a"}, Participant.Entry.PROLIFIC, True),
        ({"participant": "p1"}, Participant.Entry.LINK, True),
        # A survey-link worker (MTurk, CloudResearch) pastes the code into their task.
        ({"workerId": "A1B2C3"}, Participant.Entry.WORKER_LINK, False),
    ],
)
def test_completion_page_sends_back_only_those_the_completion_url_is_for(
    client, tmp_path, db, query, entry, sent_back
):
    completion_url = "https://app.prolific.com/submissions/complete?cc=AB12"
    study_make(tmp_path, completion_url=completion_url)
    participant = consented(client, **query)
    assert participant.entry == entry
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    page = client.get(url(participant, "complete")).content.decode()
    assert ('http-equiv="refresh"' in page) == sent_back
    assert (completion_url in page) == sent_back
    assert participant.experiment.completion_code in page
    if not sent_back:
        assert "paste it where you were asked for it" in page


def test_prolifics_placeholders_are_not_stored_as_its_ids(client, study):
    placeholders = {"STUDY_ID": "{{%STUDY_ID%}}", "SESSION_ID": "{{%SESSION_ID%}}"}
    participant = enter(client, PROLIFIC_PID="5f3c9a", **placeholders)
    assert (participant.prolific_study_id, participant.prolific_session_id) == ("", "")
    enter(client, PROLIFIC_PID="5f3c9a", STUDY_ID="S1", SESSION_ID="X1")
    participant.refresh_from_db()
    assert (participant.prolific_study_id, participant.prolific_session_id) == ("S1", "X1")


def test_completion_page_before_the_end_goes_back_to_the_trials(client, study):
    participant = consented(client)
    reply = client.get(url(participant, "complete"))
    assert reply.url == url(participant, "home")


def test_completed_participant_cannot_answer_again(client, study):
    participant = consented(client)
    for index in range(len(participant.trial_order)):
        post_answer(client, participant, **answer_no(participant, index))
    assert client.get(url(participant, "trials")).url == url(participant, "complete")
    changed = answer_no(participant, 0) | {"q1": "yes", "q2": 1, "q3": "cat"}
    post_answer(client, participant, **changed)
    assert not Response.objects.get(participant=participant, trial_index=0).q1_yes


def test_consent_page_shows_the_experiments_text_in_paragraphs(client, tmp_path, db):
    study_make(tmp_path, consent_text="First line\nwraps here.\n\nSecond <b>paragraph</b>.")
    participant = enter(client, participant="p1")
    page = client.get(url(participant, "consent")).content.decode()
    assert "<p>First line wraps here.</p>" in page
    assert "<p>Second &lt;b&gt;paragraph&lt;/b&gt;.</p>" in page


def test_the_consent_page_gives_the_duration_only_in_its_default_text(client, tmp_path, db):
    """docs/experiment.md: a consent text of one's own must say how long the study takes."""
    default = study_make(tmp_path, slug="plain").experiment
    own = study_make(tmp_path, slug="own", consent_text="Our own words.").experiment
    for experiment, duration in ((default, True), (own, False)):
        participant = participant_enter(experiment=experiment, external_id="p1")
        page = client.get(url(participant, "consent")).content.decode()
        assert ("It takes about 5 minutes" in page) is duration, experiment.slug


def test_coming_back_with_the_same_link_resumes_on_the_trial_page(client, study):
    participant = consented(client, participant="back")
    post_answer(client, participant, **answer_no(participant, 0))
    home = client.get("/study/demo/", {"participant": "back"}).url  # the tab was closed
    assert client.get(home).url == url(participant, "trials")
    page = client.get(url(participant, "trials")).content.decode()
    assert page.count('"answered": true') == 1


def test_a_started_participant_can_finish_after_the_study_closes(client, study):
    participant = consented(client, participant="late")
    Experiment.objects.filter(id=study.experiment.id).update(is_open=False)
    assert enter(client, participant="late").id == participant.id
    assert post_answer(client, participant, **answer_no(participant, 0)).status_code == 200


def test_study_without_lists_says_it_is_not_ready(client, db):
    Experiment.objects.create(slug="early", title="Not built yet")
    reply = client.get("/study/early/", {"participant": "a"})
    assert b"This study is not ready yet" in reply.content
    assert Participant.objects.count() == 0


def test_answer_endpoint_accepts_only_post(client, study):
    participant = consented(client)
    assert client.get(url(participant, "answer")).status_code == 405


def test_the_open_consent_page_keeps_the_visitors_place(client, study):
    """The page posts to its reading URL every few minutes (consent.js): it says whether the
    place is still kept, and a stale link gets the JSON 404 of the other endpoints."""
    participant = enter(client, participant="reader")
    page = client.get(url(participant, "consent")).content.decode()
    assert f'data-reading-url="{url(participant, "reading")}"' in page
    assert 'data-reading-seconds="200"' in page and "consent.js" in page
    assert client.get(url(participant, "reading")).status_code == 405
    assert client.post(url(participant, "reading")).json() == {"kept": True}
    client.post(url(participant, "consent"), {"consent": "yes"})
    assert client.post(url(participant, "reading")).json() == {"kept": False}
    stale = reverse("experiment:reading", kwargs={"slug": "demo", "token": "x" * 20})
    reply = client.post(stale)
    assert reply.status_code == 404 and "not valid" in reply.json()["error"]


def test_consent_is_given_once_the_back_button_returns_to_the_current_step(client, study):
    participant = consented(client)
    assert post_answer(client, participant, **answer_no(participant, 0)).status_code == 200
    assert client.get(url(participant, "consent")).url == url(participant, "home")
    reply = client.post(url(participant, "consent"), {"consent": "no"})
    assert reply.url == url(participant, "home")
    participant.refresh_from_db()
    assert participant.consented_at is not None
    assert participant.responses.count() == 1


def test_a_simulated_participants_id_does_not_open_its_completion_page(client, study):
    Participant.objects.create(
        experiment=study.experiment,
        external_id="synthetic-s0-0",
        status=Participant.Status.COMPLETED,
        is_synthetic=True,
    )
    reply = client.get("/study/demo/", {"participant": "synthetic-s0-0"})
    assert reply.status_code == 400
    assert b"simulated participant" in reply.content
    assert b"This participant ID cannot be used" in reply.content  # not "missing"
    assert study.experiment.completion_code.encode() not in reply.content


def test_an_unfilled_prolific_placeholder_is_not_taken_as_an_id(client, study):
    query = {"PROLIFIC_PID": "{{%PROLIFIC_PID%}}", "STUDY_ID": "S1", "SESSION_ID": "X1"}
    reply = client.get("/study/demo/", query)
    page = reply.content.decode()
    assert reply.status_code == 400 and "placeholder" in page
    assert 'value="{{%PROLIFIC_PID%}}"' not in page  # the box is not filled with it
    assert '<input type="hidden" name="STUDY_ID" value="S1">' in page  # kept for the retry
    assert '<input type="hidden" name="SESSION_ID" value="X1">' in page
    assert Participant.objects.count() == 0


def test_a_blank_prolific_pid_falls_back_to_the_participant_parameter(client, study):
    assert enter(client, PROLIFIC_PID="  ", participant="p7").external_id == "p7"


def test_a_second_window_answering_an_answered_panel_otherwise_gets_a_409(client, study):
    participant = consented(client)
    yes = answer_no(participant, 0) | {"q1": "yes", "q2": 3, "q3": "fish"}
    assert post_answer(client, participant, **yes).status_code == 200
    reply = post_answer(client, participant, **answer_no(participant, 0))
    assert reply.status_code == 409
    assert "another window" in reply.json()["error"]
    assert Response.objects.get().q1_yes


def test_a_lapsed_participant_opening_the_trials_of_a_full_study_is_told(client, tmp_path, db):
    study_make(tmp_path, participants_per_list=1)
    slow = consented(client, participant="slow")
    Participant.objects.filter(id=slow.id).update(last_seen_at=timezone.now() - timedelta(hours=2))
    enter(Client(), participant="b")
    enter(Client(), participant="c")
    reply = client.get(url(slow, "trials"))
    assert b"Your place in this study was given to someone else" in reply.content


def test_participants_sharing_a_browser_each_go_on_in_it(study):
    """A lab's computer: alice, then bob, then alice again, by typed ids."""
    lab = Client()
    alice = enter(lab, participant="alice")
    bob = enter(lab, participant="bob")
    assert enter(lab, participant="alice").id == alice.id
    assert enter(lab, participant="bob").id == bob.id


def test_a_participant_from_before_browsers_were_recorded_goes_on_and_is_bound(study):
    """Deployed mid-study: their first visit since binds them to the browser they use."""
    participant = enter(Client(), participant="early")
    Participant.objects.filter(id=participant.id).update(browser_bound=False)
    theirs = Client()
    assert enter(theirs, participant="early").id == participant.id
    assert Client().get("/study/demo/", {"participant": "early"}).status_code == 400
    assert enter(theirs, participant="early").id == participant.id


def test_no_script_can_read_the_csrf_cookie(study):
    """The pages' scripts send the form field's token; the cookie stays out of their reach."""
    browser = Client(enforce_csrf_checks=True)
    participant = enter(browser, participant="p1")
    page = browser.get(url(participant, "consent"))
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert browser.cookies["csrftoken"]["httponly"]
