"""Print hidden units of the demo network that the digits drive, for `make demo`."""

from django.core.management.base import BaseCommand, CommandError

from generator.am import demo


class Command(BaseCommand):
    help = "Print COUNT units of a demo layer that the digits activate, as a comma list."

    def add_arguments(self, parser):
        parser.add_argument("--layer", required=True, help="demo layer, e.g. fc6 or conv5")
        parser.add_argument("--count", type=int, default=6)

    def handle(self, *args, **options):
        try:
            net, _ = demo.load_demo()
            units = demo.active_units(net, options["layer"], options["count"])
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(",".join(str(unit) for unit in units))
