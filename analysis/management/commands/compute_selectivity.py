"""Compute and store every selectivity measure of every unit in an activation file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.management.commands._progress import progress_bar
from analysis.selectivity.activations import ActivationFileError
from analysis.selectivity.compat import CONVENTIONS, get_conventions
from analysis.selectivity.measures import MeasureSettings
from analysis.selectivity.ranking import SelectivityInputError
from analysis.selectivity.table import ScoreTableError, name_check
from analysis.services import scores_export_check, scores_export_csv, selectivity_compute
from generator.am.distributed import device_for_rank


class Command(BaseCommand):
    help = "Compute the selectivity scores of every unit (docs/measures.md), store and export them."

    def add_arguments(self, parser):
        parser.add_argument("--activations", required=True, type=Path, help="HDF5 file.")
        parser.add_argument("--network", required=True, help="Network name to store under.")
        parser.add_argument("--layers", default="", help="Comma-separated; default all.")
        parser.add_argument(
            "--compat",
            default="",
            choices=[name for name in sorted(CONVENTIONS) if name],
            help="Reproduce the paper's code (docs/measures.md); default: correct definitions.",
        )
        parser.add_argument("--precision-k", type=int, default=60)
        parser.add_argument("--csv", type=Path, help="Default: <activations>.selectivity.csv")
        parser.add_argument("--workers", type=int, default=None, help="Threads (default: CPUs).")
        parser.add_argument(
            "--device", default=None, help="Sort with torch on this device (e.g. cuda)."
        )

    def handle(self, *args, **options):
        if options["precision_k"] < 1:
            raise CommandError("--precision-k must be at least 1.")
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        try:
            name_check("network", options["network"])
            if options["device"] is not None:
                device_for_rank(options["device"], world_size=1, local_rank=0)
        except ValueError as error:
            raise CommandError(str(error)) from None
        settings = MeasureSettings(
            precision_k=options["precision_k"], conventions=get_conventions(options["compat"])
        )
        layers = [name.strip() for name in options["layers"].split(",") if name.strip()]
        csv_path = options["csv"] or options["activations"].with_suffix(".selectivity.csv")
        try:
            scores_export_check(path=csv_path, activations=options["activations"])
        except ScoreTableError as error:
            raise CommandError(f"{error} Nothing was computed or stored.") from None
        try:
            records = selectivity_compute(
                activations=options["activations"],
                network=options["network"],
                layers=layers,
                settings=settings,
                workers=options["workers"],
                device=options["device"],
                progress=self._progress,
                notice=self.stdout.write,
            )
        except (ActivationFileError, SelectivityInputError) as error:
            raise CommandError(f"{error} No scores were stored.") from None
        try:
            scores_export_csv(path=csv_path, records=records, settings=settings)
        except OSError as error:
            raise CommandError(
                f"Scores were stored, but the CSV was not written: {error}"
            ) from None
        self.stdout.write(f"Stored scores of {len(records)} units; CSV: {csv_path}")

    def _progress(self, layer: str, units: int):
        return progress_bar(self.stderr, total=units, desc=layer, unit="unit")
