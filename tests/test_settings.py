"""The settings refuse set-ups that would serve a public site unsafely."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def check(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    """`manage.py check` in a fresh process with only `env` of the site's settings set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("DATABASE_URL", None)
    clean["DJANGO_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_public_host_with_debug_left_unset_is_refused(tmp_path):
    result = check(tmp_path, DJANGO_ALLOWED_HOSTS="127.0.0.1,study.example.org")
    assert result.returncode != 0
    assert "names study.example.org but DJANGO_DEBUG is not set" in result.stderr


def test_debug_on_purpose_and_the_documented_production_set_up_load(tmp_path):
    assert check(tmp_path, DJANGO_ALLOWED_HOSTS="lab.local", DJANGO_DEBUG="1").returncode == 0
    production = dict(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-long-random-production-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="study.example.org",
    )
    result = check(tmp_path, "--deploy", "--fail-level", "WARNING", **production)
    assert result.returncode == 0, result.stderr


def test_the_development_key_is_flagged_by_the_deploy_check(tmp_path):
    result = check(tmp_path, "--deploy", DJANGO_DEBUG="1", DJANGO_ALLOWED_HOSTS="lab.local")
    assert "security.W009" in result.stderr


def test_the_log_shows_no_participant_token_nor_recruitment_id(client, db):
    """django.request logs each 4xx response's path: whoever reads the log must not be able to
    answer in a participant's place."""
    from config.log_redaction import RedactParticipants

    handlers = [  # the root's (django.request and the rest) and runserver's
        handler
        for name in ("", "django.server")
        for handler in logging.getLogger(name).handlers
        if any(isinstance(f, RedactParticipants) for f in handler.filters)
    ]
    assert len(handlers) == 2
    logged = io.StringIO()
    earlier = [handler.setStream(logged) for handler in handlers]
    try:
        client.get("/study/none/p/SeCrEtToKeN123/answer/")  # GET: 405, logged with its path
        client.get("/study/none/", {"PROLIFIC_PID": "5f3cSeCrEt"})  # no such study: 404
        logging.getLogger("django.server").info('"GET /study/x/?workerId=W9SeCrEt HTTP/1.1"')
    finally:
        for handler, stream in zip(handlers, earlier, strict=True):
            handler.setStream(stream)
    text = logged.getvalue()
    assert "/study/none/p/<token>/answer/" in text and "workerId=<id>" in text
    assert "SeCrEtToKeN123" not in text and "SeCrEt" not in text


def test_every_handler_a_request_record_reaches_redacts_participants():
    """Django's own default `django` logger prints to the console while DEBUG is on, without
    the redaction: the settings take its handlers away, so records reach the root's only."""
    from config.log_redaction import RedactParticipants

    reached, logger = [], logging.getLogger("django.request")
    while logger is not None:
        reached += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        logger = logger.parent if logger.propagate else None
    assert reached
    for handler in reached:
        assert any(isinstance(f, RedactParticipants) for f in handler.filters), handler


def test_the_web_servers_workers_load_no_numerical_library(tmp_path):
    """Participant pages and the admin import no numpy, pandas or torch (docs/deploy.md: a
    worker starts small); the ratings report loads them when it is asked for."""
    code = (
        "import sys, config.wsgi; from django.urls import get_resolver; "
        "get_resolver().resolve('/study/demo/'); get_resolver().resolve('/admin/'); "
        "print(sorted({'numpy', 'pandas', 'torch', 'scipy', 'matplotlib'} & set(sys.modules)))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
