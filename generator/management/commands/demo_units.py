"""Print hidden units of the demo network that the digits drive, for `make demo`."""

from django.core.management.base import BaseCommand, CommandError

from generator.am import demo


class Command(BaseCommand):
    help = "Print COUNT units of a demo layer that the digits activate, as a comma list."

    def add_arguments(self, parser):
        parser.add_argument("--layer", required=True, help="demo layer, e.g. fc6 or conv5")
        parser.add_argument("--count", type=int, default=6, help="units to print, at least 1")

    def handle(self, *args, **options):
        if options["count"] < 1:
            raise CommandError(f"--count must be at least 1, not {options['count']}")
        try:
            net, _ = demo.load_demo()
        except (ValueError, OSError) as error:  # said without the options demo_units has not
            problems = " ".join(demo.demo_files_problems().values()) or str(error)
            raise CommandError(
                f"{problems} Run `python manage.py train_demo` (or `make demo`) to train the "
                f"demo files in {demo.models_dir()} (or set $AM_MODELS_DIR to their folder)."
            ) from None
        try:
            units = demo.active_units(net, options["layer"], options["count"])
        except ValueError as error:  # an unknown layer, too few active units
            raise CommandError(str(error)) from None
        self.stdout.write(",".join(str(unit) for unit in units))
