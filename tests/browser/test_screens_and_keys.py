"""Small screens, slow or failing networks, the keyboard and screen readers on the trial page."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_participant_flow import answer_no, practice_started, saved_responses

pytestmark = pytest.mark.browser


PHONES = {
    "portrait": {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True},
    "landscape": {"viewport": {"width": 844, "height": 390}, "is_mobile": True, "has_touch": True},
}
IN_VIEW = """() => {
  const box = (selector) => document.querySelector(selector).getBoundingClientRect();
  return {frameTop: box('.panel-frame').top, panelBottom: box('#panel-image').bottom,
          yesBottom: box('.q1-choice').bottom, height: innerHeight,
          overflowing: [...document.querySelectorAll('.q2-choice')]
            .filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent)};
}"""


@pytest.mark.parametrize("phone", list(PHONES))
def test_on_a_phone_the_next_panel_opens_at_its_top_with_yes_and_no_in_view(
    browser, live_server, study, phone
):
    """After scrolling down to answer, the next panel must not open part off-screen."""
    page = practice_started(browser, live_server, f"phone-{phone}", **PHONES[phone])
    page.get_by_role("button", name="Yes", exact=True).click()
    assert page.evaluate(IN_VIEW)["overflowing"] == []  # "80-100%" fits its button
    assert page.locator(".choice kbd").first.is_hidden()  # no keyboard, no key hints
    bins = page.locator(".bins").bounding_box()  # what Yes opened is scrolled into view
    assert bins["y"] >= 0
    assert bins["y"] + bins["height"] <= PHONES[phone]["viewport"]["height"] + 1
    page.wait_for_timeout(600)  # a tap on Q2 just after Yes is held back (trial.js)
    page.get_by_role("button", name="80-100%").click()
    nxt = page.locator("#next-button").bounding_box()
    assert nxt["y"] + nxt["height"] <= PHONES[phone]["viewport"]["height"] + 1
    page.fill("#q3-input", "digits")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    expect(page.locator(".q1-choice").first).to_be_enabled()
    where = page.evaluate(IN_VIEW)
    assert 0 <= where["frameTop"] <= 10, where
    assert where["panelBottom"] <= where["height"], where
    assert where["yesBottom"] <= where["height"], where
    assert (
        page.evaluate("document.documentElement.scrollWidth") <= PHONES[phone]["viewport"]["width"]
    )


# Phones' inner sizes with the browser's bars shown, and a phone on its side.
PHONES_WITH_BARS = [(320, 460), (360, 560), (375, 553), (568, 320)]
PANEL_SEEN = """() => {
  const b = document.querySelector('#panel-image').getBoundingClientRect();
  return {seen: Math.min(b.bottom, innerHeight) - Math.max(b.top, 0), height: b.height,
          yesBottom: document.querySelector('.q1-choice').getBoundingClientRect().bottom,
          innerHeight, scrollWidth: document.documentElement.scrollWidth};
}"""


def touch_phone(width: int, height: int) -> dict:
    return {"viewport": {"width": width, "height": height}, "is_mobile": True, "has_touch": True}


@pytest.mark.parametrize("size", PHONES_WITH_BARS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_on_a_phone_the_whole_panel_stays_in_view_while_each_question_is_answered(
    browser, live_server, study, size
):
    """Q2 and Q3 lie below the panel on a phone: scrolled to, they left 20 px of a 289 px panel
    on screen (320x568), so Q3 was answered without the images. The panel now stays (sticky)."""
    page = practice_started(browser, live_server, f"sticky-{size[0]}", **touch_phone(*size))
    seen = {"Q1": page.evaluate(PANEL_SEEN)}
    assert seen["Q1"]["yesBottom"] <= size[1], seen  # Yes / No in view as the panel opens
    page.locator(".q1-choice[data-value=yes]").tap()
    expect(page.locator(".bins")).to_be_in_viewport()
    page.wait_for_timeout(600)  # the tap guard after Yes
    seen["Q2"] = page.evaluate(PANEL_SEEN)
    page.locator(".q2-choice").last.tap()
    expect(page.locator("#q3-input")).to_be_in_viewport()
    seen["Q3"] = page.evaluate(PANEL_SEEN)
    for question, at in seen.items():
        assert at["seen"] >= at["height"] - 1, (question, at)
        assert at["scrollWidth"] <= size[0], (question, at)


def test_a_second_tap_on_yes_does_not_answer_q2_under_the_finger(browser, live_server, study):
    """Yes scrolls Q2's buttons into view, and 0-20% came to lie where Yes was."""
    page = practice_started(browser, live_server, "double-tap", **touch_phone(360, 640))
    yes = page.locator(".q1-choice[data-value=yes]").bounding_box()
    x, y = yes["x"] + yes["width"] / 2, yes["y"] + yes["height"] / 2
    page.touchscreen.tap(x, y)
    expect(page.locator(".bins")).to_be_in_viewport()
    under = page.evaluate(f"document.elementFromPoint({x}, {y}).closest('.q2-choice')")
    page.touchscreen.tap(x, y)
    pressed = page.locator('.q2-choice[aria-pressed="true"]')
    expect(pressed).to_have_count(0)
    page.wait_for_timeout(600)
    page.locator(".q2-choice").first.tap()  # a deliberate tap, later, is an answer
    expect(pressed).to_have_count(1)
    assert under is not None  # the test's premise: the second tap did land on a Q2 button


def test_with_a_phone_keyboard_open_q3_and_its_error_stay_on_the_narrow_page(
    browser, live_server, study
):
    """A keyboard that resizes the page (300 px left of 568) made a portrait phone match the
    landscape layout: two columns 35 px wider than the screen, Next cut off."""
    page = practice_started(browser, live_server, "keyboard", **touch_phone(320, 568))
    page.locator(".q1-choice[data-value=yes]").tap()
    page.wait_for_timeout(600)
    page.locator(".q2-choice").last.tap()
    page.set_viewport_size({"width": 320, "height": 300})
    page.locator("#q3-input").press("Enter")  # Q3 empty: its error shows, above the box
    expect(page.locator("#q3-error")).to_contain_text("Write what you saw for Q3")
    expect(page.locator("#q3-error")).to_be_in_viewport()
    expect(page.locator("#next-button")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


CLEAR_OF_PANEL = """(selector) => {
  const frame = document.querySelector('.panel-frame').getBoundingClientRect();
  const box = document.querySelector(selector).getBoundingClientRect();
  return {top: box.top, bottom: box.bottom, frameBottom: frame.bottom, height: innerHeight};
}"""


@pytest.mark.parametrize(
    "screen",
    [{"viewport": {"width": 640, "height": 512}}, touch_phone(360, 640)],
    ids=["desktop-at-200-percent", "phone"],
)
def test_a_missing_answer_and_its_message_are_not_hidden_under_the_panel(
    browser, live_server, study, screen
):
    """In one column the panel's frame stays at the top of the screen: Next with Q2 or Q3
    unanswered put the focus and the error message under it (1280x1024 at 200%)."""
    page = practice_started(browser, live_server, "under-panel", **screen)
    page.keyboard.press("y")
    page.locator("#next-button").press("Enter")
    expect(page.locator("#q2-group")).to_be_focused()
    expect(page.locator("#q2-error")).to_contain_text("Choose a percentage")
    for selector in ["#q2-text", "#q2-group", "#q2-error"]:
        where = page.evaluate(CLEAR_OF_PANEL, selector)
        assert where["frameBottom"] <= where["top"] and where["bottom"] <= where["height"], (
            selector,
            where,
        )
    page.keyboard.press("5")
    page.locator("#next-button").press("Enter")
    expect(page.locator("#q3-input")).to_be_focused()
    expect(page.locator("#q3-error")).to_contain_text("Write what you saw for Q3")
    for selector in ["#q3-error", "#q3-input"]:
        where = page.evaluate(CLEAR_OF_PANEL, selector)
        assert where["frameBottom"] <= where["top"] and where["bottom"] <= where["height"], (
            selector,
            where,
        )
    page.keyboard.press("Shift+Tab")  # back to the answers above, now under the frame
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".q1-choice[data-value=no]")).to_be_focused()
    where = page.evaluate(CLEAR_OF_PANEL, ".q1-choice[data-value=no]")
    assert where["frameBottom"] <= where["top"], where


def test_at_400_percent_zoom_the_whole_panel_can_be_reached(browser, live_server, study):
    """WCAG 1.4.10's 320 CSS px (a 1280 px window at 400%): centred, the grid overflowed to the
    left by 29 px, out of reach of scrolling."""
    page = practice_started(
        browser, live_server, "zoom-400", viewport={"width": 320, "height": 180},
        device_scale_factor=4,
    )  # fmt: skip
    assert page.locator("#panel-image").bounding_box()["x"] >= 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_on_a_phone_a_connection_problem_shows_on_screen(browser, live_server, study):
    """The status line sat below Next, under the screen's edge: only greyed buttons showed."""
    page = practice_started(browser, live_server, "phone-offline", **touch_phone(360, 640))
    page.route("**/answer/", lambda route: route.abort("internetdisconnected"))
    page.locator(".q1-choice[data-value=yes]").tap()
    page.wait_for_timeout(600)
    page.locator(".q2-choice").last.tap()
    page.fill("#q3-input", "digits")
    page.locator("#q3-input").press("Enter")
    expect(page.locator("#save-status")).to_contain_text("Connection problem")
    expect(page.locator("#save-status")).to_be_in_viewport()


def test_the_reload_button_can_be_pressed_while_saving_keeps_failing(browser, live_server, study):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.clock.install()  # the retries' pauses (1, 2, 4 s...) pass at once
    # Routed before the pages load: a route added during a navigation may miss the first answer.
    page.route("**/answer/", lambda route: route.abort("internetdisconnected"))
    page.goto(f"{live_server.url}/study/demo/?participant=offline")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    answer_no(page)
    reload_button = page.get_by_role("button", name="Reload page")
    for _ in range(20):
        if reload_button.is_visible():
            break
        page.clock.run_for(16_000)
        page.wait_for_timeout(50)
    expect(reload_button).to_be_visible()
    expect(reload_button).to_be_enabled()
    expect(page.locator("#save-status")).to_contain_text("contact the researcher")
    with page.expect_navigation():
        reload_button.click()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 1 of 2")
    assert saved_responses("offline") == 0


def test_the_previous_panel_is_hidden_while_the_next_one_loads(browser, live_server, study):
    """On a slow connection the old panel must not stay on screen under the new number."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    first_panel, held = [], []

    def hold_the_next_panel(route):
        url = route.request.url
        if "/trials/" not in route.request.frame.url:  # the instructions' example panel
            route.continue_()
        elif first_panel in ([], [url]):
            first_panel[:] = [url]
            route.continue_()
        else:
            held.append(route)  # the next panel's image, preloaded or not, comes late

    page.route("**/panels/display/**", hold_the_next_panel)  # before any page loads
    page.goto(f"{live_server.url}/study/demo/?participant=slow")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    answer_no(page)
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    expect(page.locator("#panel-loading")).to_have_text("Loading the next panel…")
    expect(page.locator("#panel-image")).to_be_hidden()
    expect(page.locator(".q1-choice").first).to_be_disabled()
    for route in held:
        route.continue_()
    expect(page.locator("#panel-image")).to_be_visible()
    expect(page.locator("#panel-loading")).to_be_hidden()
    expect(page.locator(".q1-choice").first).to_be_enabled()


def test_the_zoom_says_it_is_loading_until_the_full_size_panel_comes(browser, live_server, study):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    held = []
    page.route("**/panels/full/**", lambda route: held.append(route))  # before any page loads
    page.goto(f"{live_server.url}/study/demo/?participant=slow-zoom")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    page.get_by_role("button", name="Zoom (full size)").click()
    expect(page.locator("#zoom-loading")).to_be_visible()
    for route in held:
        route.continue_()
    expect(page.locator("#zoom-loading")).to_be_hidden()


def contrast(css_colour: str, background=(255, 255, 255)) -> float:
    """The WCAG contrast ratio of an rgb(...) colour against a background."""

    def luminance(rgb):
        linear = [c / 3294.6 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    rgb = [int(part) for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3]]
    light, dark = sorted([luminance(rgb), luminance(background)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_keyboard_focus_comes_back_to_yes_with_a_visible_ring(browser, live_server, study):
    """Answering disables the pressed button; the focus must not be left on the page's body."""
    page = practice_started(browser, live_server, "keyboard")
    yes = page.get_by_role("button", name="Yes", exact=True)  # the key hint is not in its name
    expect(yes).to_have_attribute("aria-keyshortcuts", "Y")
    expect(page).to_have_title("Practice panel 1 of 2 – Rating images")
    choice_border = yes.evaluate("b => getComputedStyle(b).borderTopColor")
    assert contrast(choice_border) >= 3, choice_border
    page.keyboard.press("n")
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    expect(yes).to_be_focused()
    assert yes.evaluate("b => b.matches(':focus-visible')")
    ring = yes.evaluate("b => getComputedStyle(b).outlineColor")
    assert contrast(ring) >= 3, ring
    page.keyboard.press("n")
    expect(page.get_by_role("button", name="Start the main study")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_title("Panel 1 of 3 – Rating images")
    expect(yes).to_be_focused()
    expect(page.get_by_role("heading", name="Rate the panels")).to_be_attached()


def test_single_key_shortcuts_can_be_turned_off_and_stay_off(browser, live_server, study):
    """WCAG 2.1.4: speech input types letters; with the shortcuts off they answer nothing."""
    page = practice_started(browser, live_server, "speaker")
    yes = page.get_by_role("button", name="Yes", exact=True)
    page.get_by_label("Keyboard shortcuts").uncheck()
    expect(page.locator(".choice kbd").first).to_be_hidden()
    assert yes.get_attribute("aria-keyshortcuts") is None
    page.locator("body").press("n")
    page.locator("body").press("z")
    expect(page.locator("#zoom-dialog")).to_be_hidden()
    expect(page.locator("#progress-text")).to_have_text("Practice panel 1 of 2")
    page.reload()
    expect(page.locator(".q1-choice").first).to_be_enabled()
    expect(page.get_by_label("Keyboard shortcuts")).not_to_be_checked()
    page.locator("body").press("n")
    page.wait_for_timeout(800)  # past the 600 ms a panel must show before it can be answered
    assert saved_responses("speaker") == 0
    page.get_by_label("Keyboard shortcuts").check()
    expect(yes).to_have_attribute("aria-keyshortcuts", "Y")
    page.keyboard.press("n")  # the focus is on the box: not a text field, so the keys work
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")


def press_key(page, key: str, code: str) -> None:
    """A key press as a keyboard layout other than US English reports it."""
    page.evaluate(
        "([key, code]) => document.body.dispatchEvent("
        "new KeyboardEvent('keydown', {key, code, bubbles: true}))",
        [key, code],
    )


def test_letter_shortcuts_follow_the_layout_and_fall_back_to_the_key_place(
    browser, live_server, study
):
    page = practice_started(browser, live_server, "layouts")
    press_key(page, "т", "KeyN")  # Russian layout: the N key types "т"
    expect(page.locator("#progress-text")).to_have_text("Practice panel 2 of 2")
    expect(page.locator(".q1-choice").first).to_be_enabled()
    press_key(page, "y", "KeyZ")  # German layout: "y" is where US keyboards have Z
    expect(page.locator("#followup")).to_be_visible()
    expect(page.locator("#zoom-dialog")).to_be_hidden()
    assert saved_responses("layouts") == 1


def test_without_javascript_no_dead_trial_screen_shows(browser, live_server, study):
    page = browser.new_page(java_script_enabled=False)
    page.goto(f"{live_server.url}/study/demo/?participant=nojs")
    notice = page.locator("noscript .notice")  # (get_by_text does not look inside <noscript>)
    expect(notice).to_contain_text("This study needs JavaScript")
    expect(notice).to_be_visible()
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    expect(page.locator("#trial")).to_be_attached()
    expect(notice).to_be_visible()
    expect(page.locator("#trial")).to_be_hidden()
    expect(page.locator("#progress")).to_be_hidden()
