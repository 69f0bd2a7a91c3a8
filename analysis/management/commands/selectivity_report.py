"""A network's selectivity across its layers: the paper's section 3.1, figure 2, tables 2-3."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.report_files import markdown_table
from analysis.selectivity.report import selectivity_report_save
from analysis.selectors import SelectivityReportError, selectivity_report, selectivity_report_dir


class Command(BaseCommand):
    help = (
        "Summarise the stored selectivity scores of a network's layers (docs/measures.md): "
        "counts, figure 2, the top units and the correlations between the measures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True, help="Network the scores are stored under.")
        parser.add_argument("--layers", default="", help="Comma-separated; default all stored.")
        parser.add_argument(
            "--top", type=int, default=1, help="Units per layer of highest CCMAS and precision."
        )
        parser.add_argument(
            "--out", type=Path, help="Folder for the files (default $DJANGO_VAR_DIR/analysis/"
            "selectivity-NETWORK); an earlier report's files in it are replaced.",
        )  # fmt: skip

    def handle(self, *args, **options):
        if options["top"] < 1:
            raise CommandError("--top must be at least 1.")
        layers = [name.strip() for name in options["layers"].split(",") if name.strip()]
        try:
            report = selectivity_report(
                network=options["network"], layers=layers, top=options["top"]
            )
        except SelectivityReportError as error:
            raise CommandError(str(error)) from None
        out = options["out"] or selectivity_report_dir(network=options["network"])
        try:
            written = selectivity_report_save(report, out)
        except OSError as error:
            raise CommandError(f"Cannot write the report to {out}: {error}") from error
        self.stdout.write(markdown_table(report.counts))
        for note in report.notes:
            self.stdout.write(f"- {note}")
        self.stdout.write(f"Wrote {len(written)} files to {out}")
