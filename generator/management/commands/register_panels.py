"""Register panels that generate_panels wrote, here or on another machine, in an experiment.

    python manage.py register_panels var/am/alexnet/fc6 [more folders] --experiment SLUG

The usual way to run a study whose panels were made on a GPU machine: copy the output folders
to the study's server and register them there. Nothing is generated, so neither the networks
nor their weights are needed: each folder's settings say what made its panels.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from experiment.files import os_error_message
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
        for index, folder in enumerate(options["folders"]):
            # Each folder is all or nothing; those before it stay registered.
            before = options["folders"][:index]
            kept = f" ({', '.join(map(str, before))} registered above.)" if before else ""
            try:
                done = services.folder_panels_register(experiment=experiment, root=folder)
            except ValueError as error:  # not panels, damaged, conflicting, stored meanwhile...
                raise CommandError(f"{error}{kept}") from None
            except OSError as error:  # a full or read-only MEDIA_ROOT: rolled back, files deleted
                raise CommandError(
                    f"Cannot register {folder}: {os_error_message(error)}. None of its panels "
                    f"were stored.{kept} Run the same command again once that is mended: panels "
                    "already stored are skipped."
                ) from None
            except KeyboardInterrupt:  # Ctrl-C: the folder's rows rolled back, files deleted
                raise CommandError(
                    f"Stopped while registering {folder}, whose panels are stored all or "
                    f"none.{kept} Run the same command again: panels already stored are "
                    "skipped.",
                    returncode=130,  # as generate_panels: a shell's status for Ctrl-C
                ) from None
            network, layer = done.settings["network"], done.settings["layer"]
            self.stdout.write(
                f"{folder}: registered {len(done.panels)} new panels of {network} {layer} in "
                f"experiment {experiment.slug} ({done.finished} units in the folder)"
            )
            for warning in (
                _missing_message(folder, done.missing),
                services.settings_mix_message(experiment=experiment, network=network, layer=layer),
            ):
                if warning:
                    self.stdout.write(self.style.WARNING(warning))
        warning = lists_outdated_message(experiment=experiment)
        if warning:
            self.stdout.write(self.style.WARNING(warning))


def _missing_message(folder: Path, missing: list[int]) -> str:
    """A warning naming units generate_panels was asked for that this copy lacks."""
    if not missing:
        return ""
    shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
    return (
        f"{len(missing)} units generate_panels was asked for are not in {folder} ({shown}): "
        "still being made, or not copied. Copy them and run register_panels again before "
        "participants arrive (then the lists are fixed)."
    )
