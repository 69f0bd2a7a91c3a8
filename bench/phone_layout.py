"""How much of the panel a participant sees while answering each question, at phone, tablet and
laptop sizes (Chromium via Playwright; every answer a tap on touch screens).

    make demo-data && .venv/bin/python manage.py runserver 127.0.0.1:8766 &
    .venv/bin/python bench/phone_layout.py [--base-url http://127.0.0.1:8766] [--study demo] \
        [320x568 320x460 ...]

Each size is a new participant of the study (each takes a list place: a study whose places are
all taken shows no trial). Prints, per size: the panel's height in CSS px, how many of its pixels
are on screen at Q1, Q2 and Q3, where the Yes row ends when the panel opens, and the page's
width (wider than the screen means sideways scrolling).
"""

import argparse
import time

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Whole screens, and phones' inner sizes with their browser bars shown (the second group).
SIZES = ["320x568", "360x640", "390x664", "568x320", "640x360", "768x1024", "1280x720"]
SIZES += ["320x460", "360x560", "375x553"]
SEEN = """() => {
  const box = document.querySelector('#panel-image').getBoundingClientRect();
  const yes = document.querySelector('.q1-choice').getBoundingClientRect();
  return {panel: Math.round(box.height),
          seen: Math.round(Math.max(0, Math.min(box.bottom, innerHeight) - Math.max(box.top, 0))),
          yesBottom: Math.round(yes.bottom), pageWidth: document.documentElement.scrollWidth};
}"""


def measure(browser, base_url: str, study: str, width: int, height: int) -> dict:
    touch = width < 900
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=touch, has_touch=touch
    )
    page = context.new_page()
    page.goto(f"{base_url}/study/{study}/?participant=layout-{width}x{height}-{time.time()}")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("link", name="Start the practice").click()
    page.wait_for_function("!document.querySelector('.q1-choice').disabled")
    press = (lambda locator: locator.tap()) if touch else (lambda locator: locator.click())
    seen = {"Q1": page.evaluate(SEEN)}
    press(page.locator(".q1-choice[data-value=yes]"))
    page.wait_for_timeout(600)  # a Q2 tap just after Yes is held back
    seen["Q2"] = page.evaluate(SEEN)
    press(page.locator(".q2-choice").last)
    seen["Q3"] = page.evaluate(SEEN)
    context.close()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=SIZES, help="WIDTHxHEIGHT in CSS px")
    parser.add_argument("--base-url", default="http://127.0.0.1:8766")
    parser.add_argument("--study", default="demo")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        print("size       panel  seen at Q1  Q2  Q3  Yes row ends  page width")
        for size in args.sizes:
            width, height = map(int, size.split("x"))
            seen = measure(browser, args.base_url, args.study, width, height)
            q1, q2, q3 = (seen[q]["seen"] for q in ("Q1", "Q2", "Q3"))
            print(
                f"{size:<10} {seen['Q1']['panel']:>5}  {q1:>10} {q2:>3} {q3:>3}  "
                f"{seen['Q1']['yesBottom']:>6} of {height:<4}  {seen['Q3']['pageWidth']}"
            )
        browser.close()


if __name__ == "__main__":
    main()
