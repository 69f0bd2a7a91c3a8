"""Register a folder of panel images with an experiment (see experiment/panel_import.py)."""

from collections import Counter
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from experiment.files import os_error_message
from experiment.management.commands._experiment_arg import experiment_get
from experiment.models import Experiment
from experiment.panel_import import PanelImportError, layer_renamed_message, panels_import_dir
from experiment.selectors import lists_outdated_message
from experiment.services import PanelImageError, PanelRefused, experiment_create


class Command(BaseCommand):
    help = (
        "Import the images of DIR as panels. Main panels: the unit is the number ending the file "
        "name (fc6_0042.png, unit0042.jpg, 42.png). Practice panels (--practice): the name starts "
        "with the intended answer (yes_dog.png, no_noise.png) unless --answer is given. Files "
        "already imported are skipped; if any file cannot be used, nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--experiment", required=True, help="Experiment slug.")
        parser.add_argument("--create", action="store_true", help="Create the experiment.")
        parser.add_argument("--network", default="", help="Network name, e.g. alexnet.")
        parser.add_argument("--layer", default="", help="Layer, e.g. fc6 (else from file names).")
        parser.add_argument("--practice", action="store_true", help="Import practice panels.")
        parser.add_argument(
            "--answer",
            default="",
            choices=["", "yes", "no"],
            help="With --practice: the intended answer of every file. Empty (the default): "
            "each file's name gives its own (yes_dog.png, no_noise.png).",
        )

    def handle(self, *args, **options):
        # A failed import leaves no experiment it created behind (a rerun would then need no
        # --create, and a typo would stay as a study).
        try:
            with transaction.atomic():
                result, experiment = self._import(options)
        except KeyboardInterrupt:  # Ctrl-C, kill, a closed terminal: rolled back, files deleted
            raise CommandError(
                "Stopped: nothing was imported (an import is all or none). Run the same "
                "command again.",
                returncode=130,  # as generate_panels and register_panels
            ) from None
        except OSError as error:  # a full or read-only MEDIA_ROOT, say: rolled back, files deleted
            raise CommandError(
                f"Nothing was imported (an import is all or none): {os_error_message(error)}. "
                "Run the same command again once that is mended."
            ) from None
        self._report(result, experiment)

    def _import(self, options):
        if options["answer"] and not options["practice"]:  # main panels have no right answer
            raise CommandError(
                f"--answer {options['answer']} applies to practice panels: add --practice, or "
                "leave --answer out for main panels"
            )
        if options["create"]:
            existed = Experiment.objects.filter(slug=options["experiment"]).exists()
            try:
                experiment_create(slug=options["experiment"])
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            if existed:
                self.stdout.write(f"Experiment {options['experiment']} exists: importing into it.")
        experiment = experiment_get(options["experiment"])
        try:
            result = panels_import_dir(
                experiment=experiment,
                directory=Path(options["directory"]),
                network=options["network"],
                layer=options["layer"],
                practice=options["practice"],
                answer=options["answer"],
            )
        except (PanelImportError, PanelImageError, PanelRefused) as error:
            raise CommandError(str(error)) from error
        return result, experiment

    def _report(self, result, experiment):
        """What was stored, per stratum, and what still needs doing."""
        self.stdout.write(
            f"Imported {len(result.imported)} panels into {experiment.slug}; "
            f"skipped {len(result.skipped)} already imported{_names(result.skipped)}."
        )
        # Each (network, layer) is a stratum of the lists and a layer of the analysis: a
        # misread name ("alexnet_fc6") shows here, not weeks later in the report.
        groups = Counter(
            "practice" if p.is_practice else f"{p.network} {p.layer}" for p in result.imported
        )
        for group, count in sorted(groups.items()):
            self.stdout.write(f"  {group}: {count} panels")
        for warning in (
            layer_renamed_message(result.imported),
            lists_outdated_message(experiment=experiment),
        ):
            if warning:
                self.stdout.write(self.style.WARNING(warning))


def _names(skipped: list[str]) -> str:
    """The skipped files' names, " (a.png, b.png, ...)", or "": a re-made file of the same name
    is not imported again, and the researcher should see which."""
    if not skipped:
        return ""
    return f" ({', '.join(skipped[:10])}{', ...' if len(skipped) > 10 else ''})"
