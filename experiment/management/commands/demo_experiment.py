"""Set up the demo experiment for `make demo`; running it again is safe."""

from django.core.management.base import BaseCommand, CommandError

from experiment.demo import demo_experiment_setup
from experiment.files import os_error_message


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo experiment, its seven practice panels of handwritten digits "
        "and an admin user (its password is printed); builds lists if main panels exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("--experiment", default="demo", help="Experiment slug.")

    def handle(self, *args, **options):
        try:
            setup = demo_experiment_setup(slug=options["experiment"])
        except OSError as error:  # a full or read-only VAR_DIR or MEDIA_ROOT, say
            raise CommandError(
                f"The demo was not set up in full: {os_error_message(error)}. Run demo_experiment "
                "again once that is mended: what it made so far is kept, and it is safe to rerun."
            ) from None
        verb = "Created" if setup.created else "Found"
        self.stdout.write(f"{verb} experiment {setup.experiment.slug}.")
        self.stdout.write(f"Practice panels imported: {setup.practice_imported} (7 in the demo).")
        if setup.lists_built:
            self.stdout.write(f"Built {len(setup.lists_built)} trial lists of the main panels.")
        elif not setup.experiment.trial_lists.exists():
            self.stdout.write(
                "No main panels yet: run generate_panels or import_panels, then "
                "build_lists (or run this command again)."
            )
        if setup.password is None:
            self.stdout.write(
                f"A user {setup.username!r} that the demo did not make already exists; it was "
                "left as it is: log in with its own password."
            )
        else:
            self.stdout.write(f"Admin login: user {setup.username!r}, password {setup.password!r}")
