"""Register panels that generate_panels wrote, here or on another machine, in an experiment.

    python manage.py register_panels var/am/alexnet/fc6 [more folders] --experiment SLUG

The usual way to run a study whose panels were made on a GPU machine: copy the output folders
to the study's server and register them there. Nothing is generated, so neither the networks
nor their weights are needed: each folder's settings say what made its panels.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from experiment.management.commands._experiment_arg import experiment_get
from experiment.selectors import lists_outdated_message
from generator import services


class Command(BaseCommand):
    help = (
        "Register the finished units of generate_panels output folders (one per network "
        "layer, e.g. var/am/alexnet/fc6) as panels of an experiment. Units already registered "
        "are skipped; a unit that has a panel made otherwise stops the folder's registration."
    )

    def add_arguments(self, parser):
        parser.add_argument("folders", nargs="+", type=Path, help="generate_panels --out folders")
        parser.add_argument("--experiment", required=True, help="slug of an existing experiment")

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        for folder in options["folders"]:
            try:
                settings, panels = services.folder_panels_register(
                    experiment=experiment, root=folder
                )
            except ValueError as error:  # not panels, damaged, conflicting, lists fixed
                raise CommandError(f"{folder}: {error}") from None
            self.stdout.write(
                f"{folder}: registered {len(panels)} new panels of "
                f"{settings['network']} {settings['layer']} in experiment {experiment.slug}"
            )
        warning = lists_outdated_message(experiment=experiment)
        if warning:
            self.stdout.write(self.style.WARNING(warning))
