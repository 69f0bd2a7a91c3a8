"""A real participant in Chromium: consent, practice, main trials, a reload, completion."""

import os
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from experiment.models import Participant, Response
from experiment.selectors import participant_state

pytestmark = pytest.mark.browser


def screenshot(page, name: str) -> None:
    """Keep a screenshot when BROWSER_SCREENSHOTS names a folder (for looking at the pages)."""
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def answer_no(page) -> None:
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("n")


def answer_yes(page, bin_key: str, labels: str) -> None:
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("y")
    page.keyboard.press(bin_key)
    page.fill("#q3-input", labels)
    page.keyboard.press("Enter")


def saved_responses(external_id: str) -> int:
    return Response.objects.filter(participant__external_id=external_id).count()


def test_consent_practice_main_reload_and_completion(browser, live_server, study):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/study/demo/?PROLIFIC_PID=pp1&STUDY_ID=st&SESSION_ID=se")
    expect(page.get_by_role("heading", name="Information and consent")).to_be_visible()
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    expect(page.locator(".example-screen")).to_contain_text("80-100%")
    screenshot(page, "instructions")
    page.get_by_role("link", name="Start the practice").click()

    expect(page.locator("#phase-label")).to_have_text("Practice trial")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 1 of 2")
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("y")
    page.keyboard.press("5")
    page.fill("#q3-input", "fish, boat")
    screenshot(page, "trial-laptop")
    page.keyboard.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    page.get_by_role("button", name="No").click()
    expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
    page.get_by_role("button", name="Start the main study").click()

    expect(page.locator("#phase-label")).to_have_text("Main study")
    expect(page.locator("#progress-text")).to_have_text("Panel 1 of 3")
    answer_no(page)
    expect(page.locator("#progress-text")).to_have_text("Panel 2 of 3")
    assert saved_responses("pp1") == 3
    page.reload()
    expect(page.locator("#progress-text")).to_have_text("Panel 2 of 3")
    answer_yes(page, "1", "dog")
    expect(page.locator("#progress-text")).to_have_text("Panel 3 of 3")
    answer_no(page)

    expect(page.get_by_role("heading", name="Thank you, you have finished")).to_be_visible()
    participant = Participant.objects.get(external_id="pp1")
    expect(page.locator("#completion-code")).to_have_text(participant.experiment.completion_code)
    screenshot(page, "complete")
    assert participant.status == Participant.Status.COMPLETED
    responses = list(participant.responses.order_by("trial_index"))
    assert [r.trial_index for r in responses] == [0, 1, 2, 3, 4]
    assert [r.q1_yes for r in responses] == [True, False, False, True, False]
    assert (responses[0].q2_bin, responses[0].q3_first, responses[0].q3_second) == (
        4,
        "fish",
        "boat",
    )
    assert (responses[3].q2_bin, responses[3].q3_first) == (0, "dog")
    assert all(r.response_ms > 0 for r in responses)


def test_zoom_opens_the_full_resolution_panel_and_the_next_is_preloaded(
    browser, live_server, study
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    fetched = []
    page.on("requestfinished", lambda request: fetched.append(request.url))
    page.goto(f"{live_server.url}/study/demo/?participant=zoomer")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    trials = page.evaluate("JSON.parse(document.getElementById('study-state').textContent).trials")
    for _ in range(50):  # the preload runs in the background: wait for it, 5 s at most
        if any(url.endswith(trials[1]["display"]) for url in fetched):
            break
        page.wait_for_timeout(100)
    assert any(url.endswith(trials[1]["display"]) for url in fetched), fetched
    assert not any(url.endswith(trials[0]["full"]) for url in fetched)
    page.keyboard.press("z")
    expect(page.locator("#zoom-dialog")).to_be_visible()
    page.wait_for_function("document.getElementById('zoom-image').naturalWidth > 0")
    # The bar, however high its text wraps, is above the panel's first row, not over it.
    bar = page.locator(".zoom-bar").bounding_box()
    area = page.locator(".zoom-scroll").bounding_box()
    assert area["y"] >= bar["y"] + bar["height"] - 1
    assert page.locator("#zoom-dialog").evaluate("d => d.scrollHeight <= d.clientHeight")
    # Zooming never shows a panel smaller than the page does (small files are scaled up).
    zoomed = page.locator("#zoom-image").bounding_box()["width"]
    page.keyboard.press("Escape")
    expect(page.locator("#zoom-dialog")).to_be_hidden()
    assert zoomed >= page.locator("#panel-image").bounding_box()["width"] - 1
    assert saved_responses("zoomer") == 0


def test_zoom_in_a_short_window_gives_the_panel_the_whole_height(browser, live_server, study):
    """A laptop at 400% zoom (320x180 CSS px): the close button floats over the panel, whose
    hint bar above it took half the window."""
    page = browser.new_page(viewport={"width": 320, "height": 180}, device_scale_factor=4)
    page.goto(f"{live_server.url}/study/demo/?participant=short-zoom")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("z")
    expect(page.locator("#zoom-dialog")).to_be_visible()
    page.wait_for_function("document.getElementById('zoom-image').naturalWidth > 0")
    dialog = page.locator("#zoom-dialog").evaluate("d => d.clientHeight")
    assert page.locator(".zoom-scroll").bounding_box()["height"] >= dialog - 1
    page.get_by_role("button", name="Close (Esc)").click()
    expect(page.locator("#zoom-dialog")).to_be_hidden()


def test_phone_sized_screen_is_told_and_the_panel_fits(browser, live_server, study):
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/study/demo/?participant=phone")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".small-screen-notice")).to_be_visible()
    expect(page.locator(".small-screen-notice")).to_contain_text("laptop or desktop")
    expect(page.get_by_role("button", name="Zoom (full size)")).to_be_visible()
    width = page.evaluate("document.getElementById('panel-image').getBoundingClientRect().width")
    assert 300 <= width <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "trial-phone")
    page.get_by_role("button", name="No").click()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    assert saved_responses("phone") == 1


def test_an_answer_whose_reply_is_lost_is_retried_and_stored_once(browser, live_server, study):
    """The server stores the answer but the reply never arrives: the page retries, one row."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    lost = []

    def lose_first_reply(route):
        if not lost:
            lost.append(route.fetch().status)  # the server receives and stores it...
            route.abort("connectionreset")  # ...but the browser sees a network failure
        else:
            route.continue_()

    page.route("**/answer/", lose_first_reply)
    page.goto(f"{live_server.url}/study/demo/?participant=flaky")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    answer_no(page)
    expect(page.locator("#save-status")).to_contain_text("Connection problem")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2", timeout=10_000)
    assert lost == [200]
    assert saved_responses("flaky") == 1


def practice_started(browser, live_server, external_id: str, **options):
    """A page on the first practice panel, ready for an answer (options: of the browser page)."""
    page = browser.new_page(**({"viewport": {"width": 1280, "height": 800}} | options))
    return practice_opened(page, live_server, external_id)


def practice_opened(page, live_server, external_id: str):
    """`page` (a new tab) on a new participant's first practice panel, ready for an answer."""
    page.goto(f"{live_server.url}/study/demo/?participant={external_id}")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    return page


def test_after_yes_letters_type_into_q3_and_digits_change_q2(browser, live_server, study):
    """The "n" of "banana" must not answer No; a second digit corrects Q2."""
    page = practice_started(browser, live_server, "typist")
    page.keyboard.press("y")
    page.keyboard.press("2")
    page.keyboard.press("3")
    page.keyboard.type("banana")
    expect(page.locator("#q3-input")).to_have_value("banana")
    page.keyboard.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    response = Response.objects.get(participant__external_id="typist")
    assert (response.q1_yes, response.q2_bin, response.q3_first) == (True, 2, "banana")


def test_a_refused_label_can_be_mended_on_the_page(browser, live_server, study):
    """A label over the limit is refused with the reason; shortened, the same panel is saved."""
    page = practice_started(browser, live_server, "verbose")
    answer_yes(page, "3", "a" * 150)
    # Told next to the box before it is sent (the server's refusals: test_participant_ux.py).
    expect(page.locator("#q3-error")).to_contain_text("at most 100 characters")
    expect(page.locator("#reload-button")).to_be_hidden()
    page.fill("#q3-input", "dog")
    page.keyboard.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    assert Response.objects.get(participant__external_id="verbose").q3_first == "dog"


def practice_clock_stopped(browser, live_server, participant: str):
    """The first practice panel, answerable, with the page's clock installed and then stopped
    (it moves on only by `page.clock.run_for`)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.clock.install()
    page.goto(f"{live_server.url}/study/demo/?participant={participant}")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.clock.pause_at(datetime.now() + timedelta(seconds=5))
    return page


def test_a_panel_cannot_be_answered_in_its_first_moments(browser, live_server, study):
    """A double-click or a key held down on "No" must not also answer the next panel unseen."""
    page = practice_clock_stopped(browser, live_server, "doubler")
    page.get_by_role("button", name="No").click()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    page.keyboard.press("n")  # the next panel has been shown for 0 ms of the page's time
    page.evaluate(
        "document.body.dispatchEvent(new KeyboardEvent('keydown', "
        "{key: 'n', code: 'KeyN', repeat: true, bubbles: true}))"
    )
    page.wait_for_timeout(300)
    assert saved_responses("doubler") == 1
    page.clock.run_for(700)  # past the 600 ms a panel must show before it can be answered
    page.keyboard.press("n")
    expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
    assert saved_responses("doubler") == 2


def test_the_full_size_panel_moves_when_dragged(browser, live_server, study):
    page = browser.new_page(viewport={"width": 320, "height": 240})  # smaller than the panel
    page.goto(f"{live_server.url}/study/demo/?participant=dragger")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    page.get_by_role("button", name="Zoom (full size)").click()
    page.wait_for_function("document.getElementById('zoom-image').naturalWidth > 0")
    area = page.locator(".zoom-scroll")
    expect(area).to_be_focused()
    box = area.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 40, steps=4)
    page.mouse.up()
    assert area.evaluate("element => element.scrollTop") > 0


def test_a_reload_after_the_practice_still_says_the_main_study_starts(browser, live_server, study):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/study/demo/?participant=reloader")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    for _ in range(2):
        expect(page.locator(".q1-choice").first).to_be_enabled()
        page.keyboard.press("n")
    expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
    page.get_by_role("button", name="Start the main study").click()
    expect(page.locator("#progress-text")).to_have_text("Panel 1 of 3")
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("n")
    expect(page.locator("#progress-text")).to_have_text("Panel 2 of 3")
    page.reload()  # the main study has begun: straight back to its next panel
    expect(page.locator("#progress-text")).to_have_text("Panel 2 of 3")
    expect(page.get_by_role("heading", name="Practice finished")).to_be_hidden()


def test_a_slow_reader_keeps_the_place_while_the_consent_page_is_open(
    browser, live_server, study, monkeypatch
):
    """A visitor who has not consented holds a place briefly (10 minutes; 3 s here), so a
    slow reader lost it and could find the study full; the open page keeps it."""
    monkeypatch.setattr("experiment.selectors.UNCONSENTED_HOLD_MINUTES", 0.05)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/study/demo/?participant=slow-reader")
    expect(page).to_have_title("Information and consent – Rating images")
    page.wait_for_timeout(5000)  # reading, past the hold
    reader = Participant.objects.select_related("experiment").get(external_id="slow-reader")
    assert participant_state(participant=reader) == "in_progress"
    page.get_by_role("button", name="I agree").click()
    expect(page).to_have_title("Instructions – Rating images")
