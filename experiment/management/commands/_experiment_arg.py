"""The --experiment SLUG argument of every app's commands, and --out FILE of the CSV exports."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError

from experiment.files import os_error_message, replaced_whole
from experiment.models import Experiment
from experiment.selectors import ExperimentNotFound, experiment_by_slug


def experiment_get(slug: str, hint: str = "") -> Experiment:
    """The experiment with this slug, or a CommandError listing the ones that exist (and
    `hint`, what else the command could do); every app's commands look experiments up here."""
    try:
        return experiment_by_slug(slug=slug)
    except ExperimentNotFound as error:
        raise CommandError(f"{error}{hint}.") from None


class ExperimentCsvCommand(BaseCommand):
    """`--experiment SLUG --out FILE`: one experiment's CSV, written by `write`."""

    what = ""  # what one row is about, for the summary line
    write: Callable[..., int]  # write(experiment=, stream=, anonymous=) -> rows (export.py)

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="Experiment slug.")
        parser.add_argument("--out", required=True, type=Path, help="CSV file to write.")
        parser.add_argument(
            "--anonymous",
            action="store_true",
            help="A data set to publish: real participants only, without the recruitment "
            "site's ids, exclusion reasons and comments, participant_id a pseudonym that links "
            "the rows (docs/experiment.md, section 6).",
        )

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        out, anonymous = Path(options["out"]), options["anonymous"]
        try:
            with csv_out_open(out) as stream:
                rows = self.write(experiment=experiment, stream=stream, anonymous=anonymous)
        except OSError as error:  # a full disk; a full VAR_DIR for the pseudonym key
            kept = f" The earlier {out.name} is kept as it was." if out.is_file() else ""
            raise CommandError(f"{out} was not written: {os_error_message(error)}.{kept}") from None
        kind = " (anonymous)" if anonymous else ""
        self.stdout.write(f"Wrote {rows} {self.what} of {experiment.slug}{kind} to {out}.")


@contextmanager
def csv_out_open(out: Path) -> Iterator[TextIO]:
    """A stream for writing CSV that becomes `out` when the block ends without an error
    (files.replaced_whole), or a CommandError when its folder does not exist or it is a folder
    itself. The file is readable by its owner only, also when it replaces one that was not:
    exports hold participants' ids."""
    out = Path(out)
    if not out.parent.is_dir():
        raise CommandError(f"Cannot write {out}: folder {out.parent} does not exist.")
    if out.is_dir():
        raise CommandError(
            f"Cannot write {out}: it is a folder; give a file name, e.g. {out / 'export.csv'}."
        )
    with replaced_whole(out, mode=0o600) as stream:
        yield stream
