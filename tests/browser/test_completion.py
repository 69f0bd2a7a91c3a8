"""The completion page in Chromium: back to the recruitment site after a countdown, which a
participant who writes a comment pauses."""

import pytest
from playwright.sync_api import expect

from experiment.models import Participant

pytestmark = pytest.mark.browser


def finished_page(browser, live_server, study, external_id: str):
    """A participant's page at the completion screen, the study's completion URL set to a page
    of the live server (the stand-in for Prolific's)."""
    study.experiment.completion_url = f"{live_server.url}/static/experiment/study.css?cc=X"
    study.experiment.save()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/study/demo/?participant={external_id}")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("button", name="Start the practice").click()
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
    expect(page.locator("#redirect-countdown")).to_have_text("3", timeout=4_000)
    page.wait_for_url("**/study.css?cc=X", timeout=8_000)


def test_writing_a_comment_pauses_the_countdown_and_send_returns_with_it(
    browser, live_server, study
):
    page = finished_page(browser, live_server, study, "writer")
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Panel 2 was slow")
    expect(page.locator("#redirect-note")).to_contain_text("Paused while you write")
    page.wait_for_timeout(6_000)  # past the 5 s: still here
    assert "/complete/" in page.url
    page.get_by_role("button", name="Send and return").click()
    page.wait_for_url("**/study.css?cc=X")
    assert Participant.objects.get(external_id="writer").feedback == "Panel 2 was slow"
