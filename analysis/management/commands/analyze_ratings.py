"""Table 1 and the rest of the ratings report for one experiment (issue 5, docs/analysis.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.labels import WordNetMissingError
from analysis.ratings.report import REPORT_FILES, table1_display
from analysis.ratings.table1 import Table1Settings
from analysis.report_files import counted, markdown_table, report_folder_check
from analysis.selectors import PARTICIPANT_CHOICES, RatingsInputError, ratings_report_dir
from analysis.services import ratings_report_run, ratings_report_write
from experiment.management.commands._experiment_arg import experiment_get


class Command(BaseCommand):
    help = "Analyse the ratings of an experiment: CSV, Markdown, PNG figures, printed Table 1."

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="The experiment's slug.")
        parser.add_argument(
            "--out", type=Path, help="Folder for the files (default $DJANGO_VAR_DIR/analysis/"
            "SLUG-PARTICIPANTS); an earlier report's files in it are replaced.",
        )  # fmt: skip
        parser.add_argument("--participants", choices=PARTICIPANT_CHOICES, default="real")
        parser.add_argument(
            "--bootstrap", type=int, default=0, help="Replicates over participants."
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap.")
        parser.add_argument("--threshold", type=float, default=0.8, help="(b)'s share of 'yes'.")
        parser.add_argument(
            "--exclude-flagged", action="store_true",
            help="Exclude the participants the quality checks flag (completed or abandoned, never "
            "those still taking part), then analyse without them.",
        )  # fmt: skip
        parser.add_argument(
            "--anonymous", action="store_true",
            help="A report to publish: participants named by the anonymous exports' pseudonyms, "
            "without external ids and exclusion reasons; recordings by file name only.",
        )  # fmt: skip

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        try:
            table = Table1Settings(options["threshold"], options["bootstrap"], options["seed"])
        except ValueError as error:
            raise CommandError(f"{error} (--threshold, --bootstrap, --seed).") from None
        out = options["out"] or ratings_report_dir(
            experiment=experiment,
            participants=options["participants"],
            anonymous=options["anonymous"],
        )
        try:  # before --exclude-flagged stores anything
            report_folder_check(out, kind="ratings", names=REPORT_FILES)
        except OSError as error:
            raise CommandError(f"Cannot write the report to {out}: {error}") from error
        try:
            report, excluded = ratings_report_run(
                experiment=experiment, participants=options["participants"],
                table_settings=table, exclude_flagged=options["exclude_flagged"],
            )  # fmt: skip
        except (RatingsInputError, WordNetMissingError) as error:
            raise CommandError(str(error)) from error
        if options["exclude_flagged"]:
            self._print_excluded(excluded)
        try:
            written = ratings_report_write(
                report=report, out_dir=out, title=experiment.title, anonymous=options["anonymous"]
            )
        except OSError as error:
            raise CommandError(f"Cannot write the report to {out}: {error}") from error
        self.stdout.write(markdown_table(table1_display(report.table1)))
        for note in report.notes:
            self.stdout.write(f"- {note}")
        self.stdout.write(f"Wrote {len(written)} files to {out}")

    def _print_excluded(self, excluded):
        """Whom --exclude-flagged excluded and why: an exclusion lasts, so it must be seen."""
        end = ":" if excluded else "."
        flagged = counted(len(excluded), "flagged participant", "flagged participants")
        self.stdout.write(f"Excluded {flagged}{end}")
        for participant in excluded:
            self.stdout.write(f"  {participant.external_id}: {participant.exclusion_reason}")
