"""Settings for the AM-rating platform, driven by environment variables.

Local defaults: DEBUG on, SQLite in var/db.sqlite3, media in var/media.
Production: DJANGO_DEBUG=0 requires DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS;
DATABASE_URL selects PostgreSQL (or any database dj-database-url understands).
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DJANGO_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ('1', 'true', 'yes', 'on' are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_origins(name: str, default: str) -> list[str]:
    """Read a comma-separated list of origins (scheme://host[:port]); refuse anything else."""
    origins = env_list(name, default)
    for origin in origins:
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ImproperlyConfigured(
                f"{name} must list origins such as https://www.mturk.com, not {origin!r}."
            )
    return origins


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    # The prefix makes `check --deploy` flag the key should it ever serve a public site.
    SECRET_KEY = "django-insecure-local-development-key-do-not-use-in-production"

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must name the site's host(s) when DJANGO_DEBUG is off."
    )
# Debug by default is for this machine only: a public host with DJANGO_DEBUG left unset would
# show tracebacks (participants' ids and tokens among their variables) under a known key.
if "DJANGO_DEBUG" not in os.environ and set(ALLOWED_HOSTS) - LOCAL_HOSTS:
    raise ImproperlyConfigured(
        f"DJANGO_ALLOWED_HOSTS names {', '.join(sorted(set(ALLOWED_HOSTS) - LOCAL_HOSTS))} but "
        "DJANGO_DEBUG is not set, so debug mode would be on: set DJANGO_DEBUG=0 (with "
        "DJANGO_SECRET_KEY) for a public site, or DJANGO_DEBUG=1 to debug on it on purpose."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "experiment.views.csrf_failure"  # plain words for participants, not Django's
# Pages' scripts take the token from the form field ({% csrf_token %}), never from the cookie:
# no script needs to read it.
CSRF_COOKIE_HTTPONLY = True
# The key of participants' pseudonyms in anonymous exports (experiment/export.py); without it a
# random key is made once in VAR_DIR/pseudonym-key.
PSEUDONYM_KEY = os.environ.get("DJANGO_PSEUDONYM_KEY", "")
# MTurk ExternalQuestion HITs (experiment/mturk.py): the sites that may show the HIT page in a
# frame, and the only places its form may submit an assignment to (MTurk's turkSubmitTo).
MTURK_SITES = "https://worker.mturk.com,https://www.mturk.com,https://workersandbox.mturk.com"
MTURK_FRAME_ANCESTORS = env_origins("MTURK_FRAME_ANCESTORS", MTURK_SITES)
MTURK_SUBMIT_ORIGINS = env_origins("MTURK_SUBMIT_ORIGINS", MTURK_SITES)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "experiment",
    "generator",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent participants write answers at once: wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # SQLite makes the file but not its folder (a fresh checkout, a new DJANGO_VAR_DIR).
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Panels (media) are served by config/urls.py from MEDIA_ROOT; see docs/deploy.md.
WHITENOISE_MAX_AGE = 3600

LOGIN_URL = "admin:login"
# The admin's confirmation page for a bulk action ("Delete selected", with "Select all") posts
# one field per chosen row, and Django refuses more than 1,000 fields (400 Bad Request): the
# paper's study has 3,299 panels. Confirming by ids, not by the filter again, deletes exactly
# the rows the page listed, not rows added meanwhile. 30,000 ids are about 0.8 MB, within the
# 1 MB request body of docs/deploy.md's nginx site.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 30_000

# WordNet for label agreement, in NLTK's layout (corpora/wordnet); `make wordnet` builds it.
NLTK_DATA_DIR = Path(os.environ.get("NLTK_DATA", BASE_DIR / "var" / "nltk_data"))

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Participants' tokens and ids never reach the log (django.request logs every 4xx path).
    "filters": {"participants": {"()": "config.log_redaction.RedactParticipants"}},
    "formatters": {  # runserver's request lines, as Django formats them
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["participants"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["participants"],
        },
    },
    "loggers": {
        # Django's default `django` handlers (its console one prints while DEBUG is on) would
        # print every record once more, unredacted: records go on to the root's handler only.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}
