"""Write an experiment's participants to a CSV file, one row per participant."""

from experiment.export import participants_csv_write
from experiment.management.commands._experiment_arg import ExperimentCsvCommand


class Command(ExperimentCsvCommand):
    help = (
        "Export every participant of the experiment as CSV: ids, state, answers, times "
        "(for approving submissions on the recruitment site; columns: see docs/experiment.md)."
    )
    what = "participants"
    write = staticmethod(participants_csv_write)
