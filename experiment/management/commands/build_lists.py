"""Build the counterbalanced trial lists of an experiment."""

from django.core.management.base import BaseCommand, CommandError

from experiment.management.commands._experiment_arg import experiment_get
from experiment.services import ListsBuildRefused, experiment_lists_build


class Command(BaseCommand):
    help = (
        "Split the experiment's main panels into K lists, each with an equal share of every "
        "network and layer (within one). Refused once participants exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("--experiment", required=True, help="Experiment slug.")
        parser.add_argument("--lists", required=True, type=int, help="Number of lists (K).")
        parser.add_argument("--seed", type=int, default=None, help="Seed (default: random).")

    def handle(self, *args, **options):
        experiment = experiment_get(options["experiment"])
        try:
            trial_lists = experiment_lists_build(
                experiment=experiment, lists=options["lists"], seed=options["seed"]
            )
        except ListsBuildRefused as error:
            raise CommandError(str(error)) from error
        sizes = [trial_list.items.count() for trial_list in trial_lists]
        self.stdout.write(
            f"Built {len(trial_lists)} lists for {experiment.slug} (seed {trial_lists[0].seed}): "
            f"{min(sizes)} to {max(sizes)} panels each."
        )
