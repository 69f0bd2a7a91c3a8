"""The --experiment SLUG and --out FILE arguments shared by the experiment commands."""

from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError

from experiment.models import Experiment


def experiment_get(slug: str) -> Experiment:
    """The experiment with this slug, or a CommandError listing the ones that exist."""
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        known = ", ".join(Experiment.objects.values_list("slug", flat=True)) or "none yet"
        raise CommandError(
            f"No experiment {slug!r} (existing: {known}); create it in the admin first."
        )
    return experiment


class ExperimentCsvCommand(BaseCommand):
    """`--experiment SLUG --out FILE`: one experiment's CSV, written by `write`."""

    what = ""  # what one row is about, for the summary line
    write: Callable[..., int]  # write(experiment=, stream=) -> rows, as in experiment/export.py

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="Experiment slug.")
        parser.add_argument("--out", required=True, type=Path, help="CSV file to write.")

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        with csv_out_open(options["out"]) as stream:
            rows = self.write(experiment=experiment, stream=stream)
        self.stdout.write(f"Wrote {rows} {self.what} of {experiment.slug} to {options['out']}.")


def csv_out_open(out: Path) -> TextIO:
    """`out` opened for writing CSV, or a CommandError when its folder does not exist."""
    out = Path(out)
    if not out.parent.is_dir():
        raise CommandError(f"Cannot write {out}: folder {out.parent} does not exist.")
    return out.open("w", newline="", encoding="utf-8")
