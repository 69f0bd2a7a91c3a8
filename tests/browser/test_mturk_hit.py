"""An MTurk worker in Chromium: the HIT page in another site's frame, the study in a new tab,
then the HIT submitted from the frame (a local stand-in plays mturk.com)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote

import pytest
from playwright.sync_api import expect

from experiment.models import Participant

pytestmark = pytest.mark.browser


@pytest.fixture
def fake_mturk(live_server):
    """A site on another origin (127.0.0.1, the study is on localhost) that shows the HIT page
    in a frame, as mturk.com does, and records what its externalSubmit receives."""
    submitted: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            origin = f"http://127.0.0.1:{self.server.server_port}"
            hit = (
                f"{live_server.url}/study/demo/mturk/?assignmentId=A1&hitId=H1&workerId=W1"
                f"&turkSubmitTo={quote(origin)}"
            )
            # Sandboxed as a cautious host would: the study's tab must escape the sandbox.
            sandbox = "allow-scripts allow-same-origin allow-forms allow-popups"
            sandbox += " allow-popups-to-escape-sandbox"
            body = (
                f'<h1>HIT</h1><iframe src="{hit}" width="900" height="450"'
                f' sandbox="{sandbox}"></iframe>'
            )
            self.reply(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            submitted.append({"path": self.path, **{k: v[0] for k, v in form.items()}})
            self.reply("<p>HIT submitted</p>")

        def reply(self, body: str):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", submitted
    server.shutdown()
    server.server_close()


def test_worker_takes_the_study_in_a_new_tab_and_submits_the_hit(
    browser, live_server, study, fake_mturk, settings
):
    origin, submitted = fake_mturk
    settings.MTURK_FRAME_ANCESTORS = [origin]
    settings.MTURK_SUBMIT_ORIGINS = [origin]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    hit_page = context.new_page()
    hit_page.goto(f"{origin}/hit")
    hit = hit_page.frame_locator("iframe")
    expect(hit.get_by_role("heading", name="Your HIT")).to_be_visible()
    submit = hit.get_by_role("button", name="Submit HIT")
    expect(submit).to_be_disabled()

    with context.expect_page() as opened:
        hit.get_by_role("link", name="Open the study").click()
    study_tab = opened.value
    study_tab.get_by_role("button", name="I agree").click()
    study_tab.get_by_role("link", name="Start the practice").click()
    for _ in range(2):
        expect(study_tab.locator(".q1-choice").first).to_be_enabled()
        study_tab.keyboard.press("n")
    study_tab.get_by_role("button", name="Start the main study").click()
    for _ in range(3):
        expect(study_tab.locator(".q1-choice").first).to_be_enabled()
        study_tab.keyboard.press("n")
    expect(study_tab.locator("#mturk-next")).to_contain_text("Submit HIT")

    hit_page.bring_to_front()
    expect(submit).to_be_enabled(timeout=15_000)
    expect(hit.locator("#hit-status")).to_contain_text("You have finished the study")
    expect(submit).to_be_focused()  # the page has scrolled it into view: it stays put now
    submit.click()
    expect(hit.get_by_text("HIT submitted")).to_be_visible()
    participant = Participant.objects.get(external_id="W1")
    assert participant.status == Participant.Status.COMPLETED
    assert submitted == [
        {
            "path": "/mturk/externalSubmit",
            "assignmentId": "A1",
            "completion_code": participant.experiment.completion_code,
        }
    ]
    context.close()


def test_another_site_cannot_frame_the_hit_page(browser, live_server, study, fake_mturk):
    """With the default settings only mturk.com may frame it: the stand-in's frame stays empty."""
    origin, _ = fake_mturk
    page = browser.new_page()
    page.goto(f"{origin}/hit")
    frame = page.frames[1]
    for _ in range(50):  # the frame's refusal comes after the page's load: 5 s at most
        if frame.url.startswith("chrome-error://"):  # Chromium refused to show it
            break
        page.wait_for_timeout(100)
    assert frame.url.startswith("chrome-error://"), frame.url


def test_a_hit_another_hit_took_over_no_longer_offers_the_study(browser, live_server, study):
    """The worker returned this HIT and opened the study from another one (before consenting,
    which moves them there): this page says to return it, and leads no more to the study."""
    hit = (
        f"{live_server.url}/study/demo/mturk/?assignmentId={{}}&hitId=H1&workerId=W2"
        "&turkSubmitTo=https%3A%2F%2Fwww.mturk.com"
    )
    page = browser.new_page()
    page.goto(hit.format("A1"))
    expect(page.get_by_role("link", name="Open the study")).to_be_visible()
    other = browser.new_page()
    other.goto(hit.format("A2"))
    other.close()
    page.evaluate("window.dispatchEvent(new Event('focus'))")  # back to this tab
    expect(page.locator("#hit-status")).to_contain_text("from another HIT")
    expect(page.get_by_role("link", name="Open the study")).to_be_hidden()
    expect(page.get_by_role("button", name="Submit HIT")).to_be_disabled()
