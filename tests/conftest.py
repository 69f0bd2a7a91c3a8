"""Shared fixtures for all tests."""

import os
import shutil

import pytest

try:
    import pytest_django  # noqa: F401
except ImportError:
    # The GPU machine runs the Django-free generator tests with plain pytest.
    pytest_django = None
else:

    @pytest.fixture(autouse=True)
    def _media_root(settings, tmp_path):
        """Every test writes panels into its own media folder, and never makes the checkout's
        pseudonym key (experiment/export.py)."""
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.PSEUDONYM_KEY = "test-pseudonym-key-of-at-least-32-characters"


@pytest.fixture(scope="session")
def one_torch_thread():
    """The demo networks' tensors are tiny: extra threads only oversubscribe the 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    """Skip GPU tests without CUDA and browser tests unless BROWSER_TESTS=1."""
    browsers_on = os.environ.get("BROWSER_TESTS") == "1"
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
        if "browser" in item.keywords:
            if not browsers_on:
                item.add_marker(pytest.mark.skip(reason="set BROWSER_TESTS=1 to run"))
            elif not shutil.which(chromium):
                raise pytest.UsageError(f"BROWSER_TESTS=1 but no Chromium at {chromium}")
