"""Draw the paper's figure 3 for one unit of an activation file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.selectivity.activations import ActivationFile, ActivationFileError
from analysis.selectivity.plots import draw_unit_figure, unit_figure
from analysis.selectivity.ranking import SelectivityInputError
from experiment.files import os_error_message


class Command(BaseCommand):
    help = "Jitterplot, thresholds and histogram of a unit's activations (paper figure 3)."

    def add_arguments(self, parser):
        parser.add_argument("--activations", required=True, type=Path)
        parser.add_argument("--layer", required=True)
        parser.add_argument("--unit", required=True, type=int)
        parser.add_argument("--out", required=True, type=Path, help="PNG file.")
        parser.add_argument("--top-k", type=int, default=60)

    def handle(self, *args, **options):
        out = options["out"]
        if options["top_k"] < 1:
            raise CommandError(f"--top-k must be at least 1, not {options['top_k']}.")
        if out.suffix.lower() != ".png" or out.is_dir():
            raise CommandError(f"--out must name a PNG file (say {out.with_suffix('.png')}).")
        if out.parent.exists() and not out.parent.is_dir():
            raise CommandError(f"Cannot write {out}: {out.parent} is a file.")
        try:
            with ActivationFile(options["activations"]) as acts:
                figure = unit_figure(
                    acts.unit(options["layer"], options["unit"]),
                    acts.labels,
                    num_classes=acts.num_classes,
                    class_names=acts.class_names,
                    title=f"{acts.network} {options['layer']}.{options['unit']}",
                    top_k=options["top_k"],
                )
        except (ActivationFileError, SelectivityInputError) as error:
            raise CommandError(str(error)) from None
        if figure.is_dead:
            self.stdout.write(
                f"{figure.title}: the unit is dead, so the figure shows no class and no "
                "thresholds (its measures are empty, docs/measures.md)."
            )
        try:
            self.stdout.write(f"Wrote {draw_unit_figure(figure, out)}")
        except OSError as error:
            kept = f" The earlier {out.name} is kept as it was." if out.exists() else ""
            raise CommandError(f"Cannot write {out}: {os_error_message(error)}.{kept}") from None
