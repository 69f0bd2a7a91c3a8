"""Write an experiment's responses to a CSV file, one row per response."""

from pathlib import Path

from django.core.management.base import BaseCommand

from experiment.export import responses_csv_write
from experiment.management.commands._experiment_arg import csv_out_open, experiment_get


class Command(BaseCommand):
    help = "Export every response of the experiment as CSV (columns: see docs/experiment.md)."

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="Experiment slug.")
        parser.add_argument("--out", required=True, type=Path, help="CSV file to write.")

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        with csv_out_open(options["out"]) as stream:
            rows = responses_csv_write(experiment=experiment, stream=stream)
        self.stdout.write(f"Wrote {rows} responses of {experiment.slug} to {options['out']}.")
