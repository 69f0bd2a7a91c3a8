"""Browser tests' fixtures: Debian's Chromium driven by Playwright, and a small study."""

import os

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from tests.experiment.test_views import study_make

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium driven by Playwright (the live server runs the ORM in its own thread)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()
        # The test's ORM calls ran in Playwright's context, which has database connections of
        # its own: close them here, or PostgreSQL cannot drop the test database at the end.
        connections.close_all()


@pytest.fixture
def study(tmp_path, transactional_db):
    """2 practice trials, then a list of 3 main panels."""
    return study_make(tmp_path, main=6, practice_trials=2, completion_url="")
