"""What a participant sees and can do on the trial and completion pages in Chromium: the layout at
every screen size, the shortcut switch, errors next to their question, the double-click guard,
the progress between the phases, the completion page's countdown and the instructions' tab."""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from experiment.models import Response
from tests.browser.test_completion import completion_url_set, finish
from tests.browser.test_participant_flow import (
    answer_no,
    practice_clock_stopped,
    practice_opened,
    practice_started,
    saved_responses,
)

pytestmark = pytest.mark.browser

BOXES = """() => {
  const box = (selector) => {
    const b = document.querySelector(selector).getBoundingClientRect();
    return {left: b.left, top: b.top, right: b.right, bottom: b.bottom, width: b.width};
  };
  return {image: box('#panel-image'), frame: box('.panel-frame'), card: box('#questions'),
          yes: box('.q1-choice'), header: box('.study-header'), height: innerHeight,
          scrollWidth: document.documentElement.scrollWidth};
}"""
LAPTOPS = [(1366, 768), (1600, 1200), (1920, 1080), (1920, 1200), (2560, 1440), (1280, 800)]
NARROW_WINDOWS = [(901, 700), (1000, 800), (1100, 800)]
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}


def answered(external_id: str) -> list[Response]:
    responses = Response.objects.filter(participant__external_id=external_id)
    return list(responses.order_by("trial_index"))


def test_the_panel_stays_in_its_frame_beside_the_questions_at_any_size(browser, live_server, study):
    """At 1600 px and wider the 1000 px panel overflowed its frame onto the questions; between
    901 and 1100 px it was small in a frame with empty space beside it."""
    page = practice_started(browser, live_server, "wide")
    page.get_by_role("button", name="Yes", exact=True).click()  # the questions at their longest
    for width, height in LAPTOPS + NARROW_WINDOWS:
        page.set_viewport_size({"width": width, "height": height})
        at = page.evaluate(BOXES)
        image, frame, card = at["image"], at["frame"], at["card"]
        size = f"{width}x{height}: {at}"
        assert frame["left"] <= image["left"] and image["right"] <= frame["right"], size
        assert image["bottom"] <= frame["bottom"], size
        assert frame["right"] <= card["left"], size  # side by side, not overlapping
        assert card["right"] <= width and at["scrollWidth"] <= width, size
        assert frame["width"] - image["width"] <= 22, size  # padding and border: no empty band
        assert image["bottom"] <= height, size  # the whole panel on the screen
        assert image["width"] >= min(1000, height - 136) - 1 or width < 1500, size
        if (width, height) in NARROW_WINDOWS:
            assert image["width"] >= 500, size  # the room beside the questions is used


@pytest.mark.parametrize(
    "screen",
    [
        # A 1366x768 laptop at 200% zoom: narrower than 700 CSS pixels.
        {"viewport": {"width": 683, "height": 384}, "device_scale_factor": 2},
        # A phone or tablet, which may have a keyboard attached.
        PHONE,
    ],
    ids=["zoomed-laptop", "touch-screen"],
)
def test_the_shortcut_switch_shows_wherever_the_keys_work(browser, live_server, study, screen):
    """WCAG 2.1.4: where a key answers, the switch that turns the keys off must be there."""
    page = practice_started(browser, live_server, "zoomed", **screen)
    switch = page.get_by_label("Keyboard shortcuts")
    expect(switch).to_be_visible()
    switch.scroll_into_view_if_needed()
    switch.uncheck()
    page.locator("body").press("n")
    page.wait_for_timeout(300)
    assert saved_responses("zoomed") == 0
    switch.check()
    page.locator("body").press("n")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")


def test_next_says_what_is_missing_and_sends_nothing_incomplete(browser, live_server, study):
    page = practice_started(browser, live_server, "hasty")
    sent = []
    page.on("request", lambda request: sent.append(request) if "/answer/" in request.url else None)
    page.keyboard.press("y")
    page.keyboard.type("fish")  # Q3 written, Q2 not chosen
    page.keyboard.press("Enter")
    expect(page.locator("#q2-error")).to_have_text("Choose a percentage for Q2.")
    expect(page.locator("#q2-group")).to_be_focused()  # the question, not its first answer
    page.keyboard.press("Enter")  # again, as if the first press had not counted
    expect(page.locator(".q2-choice[aria-pressed=true]")).to_have_count(0)
    # Next is not disabled (Tab reaches it, pressing it speaks), only marked so.
    nxt = page.get_by_role("button", name="Next")
    expect(nxt).to_have_attribute("aria-disabled", "true")
    page.locator("#q3-input").focus()
    page.keyboard.press("Tab")
    expect(nxt).to_be_focused()
    page.locator("#q2-error").evaluate("e => (e.textContent = '')")
    page.keyboard.press("Enter")  # on Next
    expect(page.locator("#q2-error")).to_have_text("Choose a percentage for Q2.")
    page.keyboard.press("3")
    expect(page.locator("#q2-error")).to_be_empty()
    expect(nxt).to_have_attribute("aria-disabled", "false")
    page.fill("#q3-input", "  ")
    nxt.click(force=True)  # (Playwright waits for an aria-disabled button; a person does not)
    expect(page.locator("#q3-error")).to_contain_text("Write what you saw for Q3")
    expect(page.locator("#q3-input")).to_be_focused()
    expect(page.locator("#q3-input")).to_have_attribute("aria-invalid", "true")
    assert sent == []
    page.keyboard.type("fish")
    expect(page.locator("#q3-error")).to_be_empty()
    expect(page.locator("#q3-input")).not_to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    assert [(r.q2_bin, r.q3_first) for r in answered("hasty")] == [(2, "fish")]


def test_q3_over_its_limits_is_told_next_to_the_box_before_sending(browser, live_server, study):
    page = practice_started(browser, live_server, "wordy")
    sent = []
    page.on("request", lambda request: sent.append(request) if "/answer/" in request.url else None)
    box = page.locator("#q3-input")
    page.keyboard.press("y")
    page.keyboard.press("2")
    expect(box).to_have_attribute("aria-describedby", "q3-hint q3-error")
    long_thing = "b" * 101
    box.fill(f"fish, {long_thing}")  # as a paste: all of it, not cut at a maxlength
    expect(box).to_have_value(f"fish, {long_thing}")
    error = page.locator("#q3-error")
    expect(error).to_contain_text("at most 100 characters; the second has 101")
    expect(box).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Next").click(force=True)  # marked aria-disabled
    expect(box).to_be_focused()
    box.fill("x" * 100 + "，cat")  # 100 is allowed; a full-width comma separates
    expect(error).to_be_empty()
    box.fill("fish, boat; dog")
    expect(error).to_contain_text("at most two things")
    box.press("Enter")
    expect(box).to_be_focused()
    page.wait_for_timeout(300)
    assert sent == []
    box.fill("fish, boat")
    box.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    assert [(r.q3_first, r.q3_second) for r in answered("wordy")] == [("fish", "boat")]


def test_a_q3_the_server_refuses_is_told_next_to_the_box(browser, live_server, study, monkeypatch):
    """A limit the page does not know (here the server's shortened to 5 characters)."""
    monkeypatch.setattr("experiment.answers.LABEL_MAX_CHARS", 5)
    page = practice_started(browser, live_server, "refused")
    page.keyboard.press("y")
    page.keyboard.press("4")
    page.keyboard.type("elephant")
    page.keyboard.press("Enter")
    error = page.locator("#q3-error")
    expect(error).to_contain_text("at most 5 characters")
    expect(error).to_contain_text("Please change your answer")
    box = page.locator("#q3-input")
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#reload-button")).to_be_hidden()
    box.fill("dog")
    box.press("Enter")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    assert [r.q3_first for r in answered("refused")] == ["dog"]


def test_an_answer_refused_for_a_reload_puts_the_focus_on_reload(browser, live_server, study):
    """A panel answered otherwise in another tab (409): the message asks for a reload, and the
    focus stayed on the page's body, with Next the next Tab stop instead of the button."""
    tabs = browser.new_context(viewport={"width": 1280, "height": 800})
    page = practice_opened(tabs.new_page(), live_server, "two-tabs")
    other = tabs.new_page()
    other.goto(page.url)
    expect(other.locator(".q1-choice").first).to_be_enabled()
    page.keyboard.press("n")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    other.keyboard.press("y")
    other.keyboard.press("4")
    other.keyboard.type("dog")
    other.keyboard.press("Enter")
    expect(other.locator("#save-status")).to_contain_text("reload", ignore_case=True)
    expect(other.get_by_role("button", name="Reload page")).to_be_focused()
    assert [r.q1_yes for r in answered("two-tabs")] == [False]


def test_full_width_ideographic_and_arabic_separators_split_two_things(browser, live_server, study):
    """The page splits Q3 as the server does: its count of things matches the server's."""
    page = practice_started(browser, live_server, "cjk")
    separators = ["，", "；", "／", "、", "،"]  # U+FF0C, U+FF1B, U+FF0F, U+3001, U+060C
    then = ["Practice panel 2 of 2", "Practice finished", "Panel 2 of 3", "Panel 3 of 3", None]
    for number, separator in enumerate(separators):
        if number == 2:
            page.get_by_role("button", name="Start the main study").click()
        expect(page.locator(".q1-choice").first).to_be_enabled()
        page.keyboard.press("y")
        page.keyboard.press("1")
        page.keyboard.type(f"fish{separator}boat{separator}dog")
        expect(page.locator("#q3-error")).to_contain_text("at most two things (you wrote 3)")
        page.fill("#q3-input", f"fish{separator} boat")
        page.keyboard.press("Enter")
        if then[number]:
            expect(page.locator("#progress-text")).to_have_text(then[number])
    expect(page.get_by_role("heading", name="Thank you, you have finished")).to_be_visible()
    assert [(r.q3_first, r.q3_second) for r in answered("cjk")] == [("fish", "boat")] * 5


def test_a_slow_double_click_on_no_answers_one_panel(browser, live_server, study):
    """The second click 450 ms after the first (Windows allows 500 ms between the two) fell on
    the next panel, shown a few milliseconds after the first click."""
    page = practice_clock_stopped(browser, live_server, "slowclick")
    no = page.get_by_role("button", name="No")
    box = no.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    expect(page.locator("#panel-image")).to_be_visible()  # loaded: its 600 ms are counting
    page.clock.run_for(450)
    page.mouse.click(x, y)  # the second click of the double-click, on the same place
    page.wait_for_timeout(300)
    assert saved_responses("slowclick") == 1
    page.clock.run_for(200)  # 650 ms: a deliberate click
    expect(no).to_be_enabled()
    page.mouse.click(x, y)
    expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
    assert saved_responses("slowclick") == 2


def test_between_the_phases_the_progress_says_the_practice_is_finished(browser, live_server, study):
    page = practice_started(browser, live_server, "between")
    for _ in range(2):
        answer_no(page)
    for visit in ("after the practice", "after a reload"):
        expect(page.get_by_role("heading", name="Practice finished")).to_be_visible()
        expect(page.locator("#progress-text")).to_have_text("Practice finished")
        expect(page.locator("#progress-fill")).to_have_attribute("style", "width: 100%;")
        expect(page).to_have_title("Practice finished – Rating images")
        if visit == "after the practice":
            page.reload()
    page.get_by_role("button", name="Start the main study").click()
    expect(page.locator("#progress-text")).to_have_text("Panel 1 of 3")
    expect(page.locator("#progress-fill")).to_have_attribute("style", "width: 0%;")


def test_the_completion_page_tells_a_screen_reader_of_its_countdown(
    browser, live_server, study, monkeypatch
):
    """The focus goes to "Stay on this page", described by the note; a polite live region
    warns again near the end; the seconds themselves tick outside any live region."""
    monkeypatch.setattr("experiment.views.COMPLETION_REDIRECT_SECONDS", 8)
    completion_url_set(study, live_server)
    page = finish(browser.new_page(viewport={"width": 1280, "height": 800}), live_server, "sr")
    stay = page.get_by_role("button", name="Stay on this page")
    expect(stay).to_be_focused()
    expect(stay).to_have_accessible_description(
        re.compile(r"^You will be taken back to the recruitment site .* in \d seconds")
    )
    live = page.locator("#redirect-live")
    expect(live).to_have_attribute("role", "status")
    assert page.locator("#redirect-countdown").evaluate(
        "e => e.closest('[aria-live], [role=status], [role=alert]') === null"
    )
    expect(live).to_contain_text("In 5 seconds you will be taken back", timeout=6_000)
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Fine")
    expect(live).to_have_text("The countdown has stopped: you stay on this page.")
    page.wait_for_timeout(5_500)  # past the 8 s: still here
    assert "/complete/" in page.url


def test_the_instructions_start_with_a_plain_address_and_come_back_without_a_second_tab(
    browser, live_server, study
):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = practice_opened(context.new_page(), live_server, "reader")
    assert page.url.endswith("/trials/"), page.url  # not ".../trials/?"
    page.keyboard.press("y")
    page.keyboard.type("half an answer")
    with context.expect_page() as opened:
        page.get_by_role("link", name="Read the instructions again").click()
    instructions = opened.value
    back = instructions.get_by_role("link", name="Back to the panels")
    expect(back).to_be_visible()
    with instructions.expect_event("close"):
        try:
            back.click()
        except PlaywrightError as error:  # it closed its page before Playwright heard it was made
            assert "closed" in str(error), error
    assert context.pages == [page]
    expect(page.locator("#q3-input")).to_have_value("half an answer")  # the same page
    # The trial page moves on while the instructions are open: back there, the button no
    # longer offers to go back to the panels.
    with context.expect_page() as opened:
        page.get_by_role("link", name="Read the instructions again").click()
    instructions = opened.value
    expect(instructions.get_by_role("link", name="Back to the panels")).to_be_visible()
    page.goto(page.url.replace("/trials/", "/instructions/"))
    instructions.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(instructions.get_by_role("link", name="Start the practice")).to_be_visible()
    instructions.close()
    # Opened on its own (a bookmark, the Back button), the link goes on as before.
    page.goto(page.url.replace("/trials/", "/instructions/"))
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 1 of 2")
    context.close()


def test_on_a_phone_the_panel_and_yes_no_show_and_stay_in_view(browser, live_server, study):
    study.experiment.title = (
        "How people see many small images: recognisable objects in the units of neural "
        "networks, a study run by a research group"
    )
    study.experiment.save()
    page = practice_started(browser, live_server, "phone-first", **PHONE)
    for visit in ("first panel", "after a reload"):
        at = page.evaluate(BOXES)
        assert at["frame"]["top"] >= 0, (visit, at)
        assert at["image"]["bottom"] <= at["height"], (visit, at)
        assert at["yes"]["bottom"] <= at["height"], (visit, at)
        if visit == "first panel":
            page.reload()
            expect(page.locator(".q1-choice").first).to_be_enabled()
    assert page.evaluate(BOXES)["header"]["bottom"] - page.evaluate(BOXES)["header"]["top"] <= 80
    notice = page.locator(".small-screen-notice")
    assert notice.bounding_box()["height"] <= 45  # one line until opened
    notice.locator("summary").click()
    expect(page.locator("#study-address")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the address wraps
    notice.locator("summary").click()
    page.get_by_role("button", name="Yes", exact=True).click()
    page.wait_for_timeout(600)  # a tap on Q2 just after Yes is held back (trial.js)
    page.get_by_role("button", name="80-100%").click()
    at = page.evaluate(BOXES)
    nxt = page.get_by_role("button", name="Next").bounding_box()
    assert nxt["y"] + nxt["height"] <= 667 + 1
    assert at["image"]["top"] >= 0 and at["image"]["bottom"] <= 667, at  # all of it, sticky
