"""Setting up the demo experiment of `make demo`: experiment, admin user and practice panels."""

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from experiment.digits import practice_panels_write
from experiment.files import replaced_whole
from experiment.models import Experiment, Panel, TrialList
from experiment.panel_import import panels_import_dir
from experiment.services import experiment_lists_build

DEMO_ADMIN_USERNAME = "admin"
DEMO_LISTS = 4
DEMO_CONSENT_TEXT = """\
You are invited to take part in a research study on how people see images made by artificial
neural networks. You will see grids of images and, for each grid, answer whether you can identify
multiple examples of an everyday object, place or animal, and if so, what it is and how many other
people you think would say the same. This demo takes a few minutes.

Taking part is voluntary. You may stop at any time by closing the page, without giving a reason
and without any disadvantage. We record your answers, your response times, any comment you leave
at the end, your browser's name and version, and the participant id given by the recruitment
platform; we do not ask for your name or any other information that identifies you. The answers
are stored securely, analysed without your participant id and may be published as a data set
without it, or any comment you write, under a code instead.

If you have questions about the study, contact the researchers through the recruitment platform."""


@dataclass
class DemoSetup:
    """What demo_experiment_setup did, for the command to report."""

    experiment: Experiment
    created: bool
    username: str
    password: str | None  # None: an admin user the demo did not make exists and was left alone
    practice_imported: int = 0
    lists_built: list[TrialList] = field(default_factory=list)


def demo_experiment_setup(*, slug: str) -> DemoSetup:
    """Create or refresh the demo experiment; safe to run again.

    Makes the experiment, a superuser with the demo's password (random, kept in VAR_DIR), the
    seven practice panels tiled from handwritten digits, and lists when main panels exist but no
    lists do.
    """
    with transaction.atomic():
        experiment, created = Experiment.objects.get_or_create(
            slug=slug,
            defaults={"title": f"Demo: rating images ({slug})", "consent_text": DEMO_CONSENT_TEXT},
        )
        password = demo_admin_reset()
    setup = DemoSetup(experiment, created, DEMO_ADMIN_USERNAME, password)
    with tempfile.TemporaryDirectory() as folder:
        practice_panels_write(Path(folder))
        result = panels_import_dir(experiment=experiment, directory=Path(folder), practice=True)
    setup.practice_imported = len(result.imported)
    setup.lists_built = demo_lists_build(experiment=experiment)
    return setup


def demo_admin_password() -> str:
    """The demo admin's password: made once, kept in VAR_DIR so every run prints the same one.

    Written whole or not at all (files.replaced_whole); a file that is empty or cannot be read
    (left so by an earlier version on a full disk) counts as none, and a new password is made.
    """
    path = Path(settings.VAR_DIR) / "demo-admin-password"
    try:
        password = path.read_text().strip()
    except (OSError, UnicodeDecodeError):  # missing, unreadable, not text
        password = ""
    if password:
        return password
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    try:
        with replaced_whole(path, mode=0o600) as stream:
            stream.write(password + "\n")
    except OSError as error:  # a full VAR_DIR, say: name the file
        raise OSError(error.errno, error.strerror, str(path)) from None
    return password


def demo_admin_reset() -> str | None:
    """Create the demo superuser and return its password.

    A user of that name with another password (a real account, say, in a database the demo
    was pointed at by mistake) is left exactly as it is, and None is returned. An empty password
    is the demo's own: an earlier version gave it when its password file was left empty.
    """
    password = demo_admin_password()
    user, created = get_user_model().objects.get_or_create(username=DEMO_ADMIN_USERNAME)
    if not created and not (user.check_password(password) or user.check_password("")):
        return None
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return password


def demo_lists_build(*, experiment: Experiment) -> list[TrialList]:
    """(Re)build lists when main panels are in no list yet and nobody has started."""
    main = Panel.objects.filter(experiment=experiment, is_practice=False)
    main_panels = main.count()
    unlisted = main.filter(list_item__isnull=True).exists()
    if not unlisted or experiment.participants.exists():
        return []
    return experiment_lists_build(experiment=experiment, lists=min(DEMO_LISTS, main_panels), seed=0)
