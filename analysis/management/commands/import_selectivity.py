"""Load selectivity scores computed elsewhere from a CSV file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.selectivity.table import COLUMNS, ScoreTableError
from analysis.services import selectivity_import


class Command(BaseCommand):
    help = (
        "Import selectivity scores from CSV (columns: " + ", ".join(COLUMNS) + "). "
        "Rows replace the stored scores of their network and layer; nothing is stored on error."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)

    def handle(self, *args, **options):
        try:
            count = selectivity_import(path=options["csv"], notice=self.stdout.write)
        except ScoreTableError as error:
            raise CommandError(f"{error} Nothing was imported.") from None
        self.stdout.write(f"Imported scores of {count} units from {options['csv']}")
