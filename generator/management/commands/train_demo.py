"""Train the demo network and its fc6 generator on scikit-learn's digits (no downloads)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generator.am import demo


class Command(BaseCommand):
    help = "Train the demo network and its generator; skipped when their files exist."

    def add_arguments(self, parser):
        parser.add_argument(
            "--models", type=Path, help="folder (default: $AM_MODELS_DIR or var/models)"
        )
        parser.add_argument("--force", action="store_true", help="train even if files exist")

    def handle(self, *args, **options):
        folder = options["models"] or demo.models_dir()
        files = [folder / demo.DEMO_NET_FILE, folder / demo.DEMO_GENERATOR_FILE]
        if all(path.is_file() for path in files) and not options["force"]:
            self.stdout.write(
                f"Demo network and generator already in {folder}; --force trains them again"
            )
            return
        try:
            demo.models_dir_prepare(folder)  # fail now, not after the training
        except ValueError as error:
            raise CommandError(
                f"{error}; choose a folder you can write with --models (or $AM_MODELS_DIR)"
            ) from None
        self.stdout.write("Training the demo network and its generator on the digits ...")
        report = demo.train_demo(folder)
        self.stdout.write(
            f"Saved {report['net']} (held-out accuracy {report['heldout_accuracy']:.1%}) and "
            f"{report['generator']} in {report['seconds']:.0f} s"
        )
