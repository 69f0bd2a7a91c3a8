"""Fill an experiment with synthetic participants (docs/analysis.md, "Simulated participants")."""

from django.core.management.base import BaseCommand, CommandError

from analysis.ratings.simulation import SimulationSettings
from analysis.services import (
    SimulationError,
    simulation_responses_create,
    simulation_responses_delete,
)
from experiment.management.commands._experiment_arg import experiment_get


class Command(BaseCommand):
    help = "Add N synthetic participants (marked is_synthetic) with answers to the experiment."

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="The experiment's slug.")
        parser.add_argument("--participants", type=int, help="How many to add.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--delete", action="store_true",
            help="Remove the experiment's synthetic participants and their answers instead.",
        )  # fmt: skip

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        if options["delete"]:
            deleted = simulation_responses_delete(experiment=experiment)
            self.stdout.write(f"Deleted {deleted} synthetic participants of {experiment.slug}.")
            return
        if options["participants"] is None:
            raise CommandError("Give --participants N (or --delete).")
        if options["seed"] < 0:
            raise CommandError(f"--seed must be 0 or more, not {options['seed']}.")
        try:
            created = simulation_responses_create(
                experiment=experiment,
                participants=options["participants"],
                settings=SimulationSettings(seed=options["seed"]),
            )
        except SimulationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Added {len(created)} synthetic participants to {experiment.slug}; "
            "analyse them with analyze_ratings --participants synthetic."
        )
