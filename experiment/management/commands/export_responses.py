"""Write an experiment's responses to a CSV file, one row per response."""

from experiment.export import responses_csv_write
from experiment.management.commands._experiment_arg import ExperimentCsvCommand


class Command(ExperimentCsvCommand):
    help = "Export every response of the experiment as CSV (columns: see docs/experiment.md)."
    what = "responses"
    write = staticmethod(responses_csv_write)
