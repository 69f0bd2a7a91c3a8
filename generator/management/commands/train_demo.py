"""Train the demo network and its fc6 generator on scikit-learn's digits (no downloads)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from experiment.files import os_error_message
from generator.am import demo


class Command(BaseCommand):
    help = (
        "Train the demo network and its generator; skipped when their files are there and load. "
        "A file that does not load (cut short, say) is moved aside and both are trained again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--models", help="folder (default: $AM_MODELS_DIR or var/models)")
        parser.add_argument("--force", action="store_true", help="train even if the files load")

    def handle(self, *args, **options):
        folder = self._folder(options["models"])
        problems = demo.demo_files_problems(folder)
        if not problems and not options["force"]:
            self.stdout.write(
                f"Demo network and generator already in {folder} (both load); --force trains "
                "them again"
            )
            return
        try:
            demo.models_dir_prepare(folder)  # fail now, not after the training
        except ValueError as error:
            raise CommandError(
                f"{error}; choose a folder you can write with --models (or $AM_MODELS_DIR)"
            ) from None
        try:
            moved = demo.unusable_files_set_aside(problems)
        except ValueError as error:
            raise CommandError(f"{error}, or choose another folder with --models") from None
        for problem, aside in moved:
            self.stdout.write(self.style.WARNING(f"{problem} Moved it to {aside}; training again."))
        self.stdout.write("Training the demo network and its generator on the digits ...")
        try:
            report = demo.train_demo(folder)
        except OSError as error:  # a full disk, say
            raise CommandError(
                f"The demo files cannot be saved in {folder}: {os_error_message(error)}. Run "
                "train_demo again once that is mended."
            ) from None
        self.stdout.write(
            f"Saved {report['net']} (held-out accuracy {report['heldout_accuracy']:.1%}) and "
            f"{report['generator']} in {report['seconds']:.0f} s"
        )

    def _folder(self, models: str | None) -> Path:
        if models is None:
            return demo.models_dir()
        if not models.strip():
            raise CommandError(
                "--models is empty: give the folder of the demo files, e.g. var/models (or "
                "leave --models out for $AM_MODELS_DIR, else var/models)"
            )
        return Path(models)
