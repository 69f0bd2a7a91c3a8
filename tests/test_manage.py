"""manage.py: a command stopped by SIGTERM or SIGHUP cleans up as after Ctrl-C."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A command that signals itself, then would go on for a while.
STOPS_ITSELF = (
    "import os, signal, time; os.kill(os.getpid(), signal.{}); time.sleep(20); print('went on')"
)


def shell(tmp_path, code: str, **options) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env["DJANGO_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **options,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_stopped_command_stops_as_after_ctrl_c(tmp_path, name):
    """KeyboardInterrupt: the clean-up that Ctrl-C runs (import_panels' files, say) runs."""
    result = shell(tmp_path, STOPS_ITSELF.format(name))
    assert f"KeyboardInterrupt: {name}" in result.stderr
    assert "went on" not in result.stdout


def test_a_hang_up_ignored_by_nohup_stays_ignored(tmp_path):
    ignored = shell(
        tmp_path,
        STOPS_ITSELF.format("SIGHUP").replace("time.sleep(20)", "time.sleep(0.1)"),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    assert "went on" in ignored.stdout
