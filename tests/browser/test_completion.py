"""The completion page in Chromium: back to the recruitment site after a countdown, which a
participant who writes a comment pauses."""

import pytest
from playwright.sync_api import expect

from experiment.models import Participant

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _short_countdown(monkeypatch):
    """2 s instead of 20 before the page returns to the recruitment site: shorter waits."""
    monkeypatch.setattr("experiment.views.COMPLETION_REDIRECT_SECONDS", 2)


def completion_url_set(study, live_server) -> None:
    """The study's completion URL: a page of the live server (the stand-in for Prolific's)."""
    study.experiment.completion_url = f"{live_server.url}/static/experiment/study.css?cc=X"
    study.experiment.save()


def finished_page(browser, live_server, study, external_id: str):
    """A participant's page at the completion screen (see completion_url_set)."""
    completion_url_set(study, live_server)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    return finish(page, live_server, external_id)


def completed_participant(study, live_server, external_id: str, **fields) -> Participant:
    """A participant who has finished, made directly (see completion_url_set)."""
    completion_url_set(study, live_server)
    return Participant.objects.create(
        experiment=study.experiment,
        external_id=external_id,
        status=Participant.Status.COMPLETED,
        **fields,
    )


def finish(page, live_server, external_id: str):
    """Take `page` through the whole study as `external_id`, to the completion screen."""
    page.goto(f"{live_server.url}/study/demo/?participant={external_id}")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    for phase in ("practice", "main"):
        for _ in range(2 if phase == "practice" else 3):
            expect(page.locator(".q1-choice").first).to_be_enabled()
            page.keyboard.press("n")
        if phase == "practice":
            page.get_by_role("button", name="Start the main study").click()
    expect(page.get_by_role("heading", name="Thank you, you have finished")).to_be_visible()
    return page


def test_the_page_returns_to_the_recruitment_site_after_its_countdown(browser, live_server, study):
    page = finished_page(browser, live_server, study, "waiter")
    expect(page.locator("#redirect-countdown")).to_have_text("1", timeout=2_000)
    page.wait_for_url("**/study.css?cc=X", timeout=5_000)


def test_stay_on_this_page_stops_the_countdown(browser, live_server, study):
    page = finished_page(browser, live_server, study, "stayer")
    page.get_by_role("button", name="Stay on this page").click()
    expect(page.locator("#redirect-note")).to_be_focused()
    expect(page.locator("#redirect-note")).to_contain_text("You stay on this page")
    page.wait_for_timeout(3_000)  # past the 2 s: still here
    assert "/complete/" in page.url


def test_without_javascript_the_page_still_returns_after_its_countdown(browser, live_server, study):
    participant = completed_participant(study, live_server, "nojs")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/study/demo/p/{participant.token}/complete/")
    expect(page.get_by_role("button", name="Stay on this page")).to_be_hidden()
    page.wait_for_url("**/study.css?cc=X", timeout=10_000)
    context.close()


def test_writing_a_comment_pauses_the_countdown_and_send_returns_with_it(
    browser, live_server, study
):
    page = finished_page(browser, live_server, study, "writer")
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Panel 2 was slow")
    expect(page.locator("#redirect-note")).to_contain_text("You stay on this page")
    page.wait_for_timeout(3_000)  # past the 2 s: still here
    assert "/complete/" in page.url
    page.get_by_role("button", name="Send and return").click()
    page.wait_for_url("**/study.css?cc=X")
    assert Participant.objects.get(external_id="writer").feedback == "Panel 2 was slow"


def test_a_comment_begun_before_the_script_ran_pauses_the_countdown(browser, live_server, study):
    """On a slow connection the page shows before complete.js runs; typing then must count."""
    completion_url_set(study, live_server)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    held = []
    page.route("**/experiment/complete.js", lambda route: held.append(route))  # held back
    finish(page, live_server, "early")
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Early words")
    held[0].continue_()
    expect(page.locator("#redirect-note")).to_contain_text("You stay on this page")
    page.wait_for_timeout(3_000)  # past the 2 s: still here
    assert "/complete/" in page.url


def test_a_comment_sent_on_an_earlier_visit_does_not_stop_the_countdown(
    browser, live_server, study
):
    participant = completed_participant(study, live_server, "returner", feedback="Sent before")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/study/demo/p/{participant.token}/complete/")
    expect(page.get_by_label("Anything you would like to tell us? (optional)")).to_have_value(
        "Sent before"
    )
    page.wait_for_url("**/study.css?cc=X", timeout=5_000)
