"""The --experiment SLUG argument shared by the experiment commands."""

from django.core.management.base import CommandError

from experiment.models import Experiment


def experiment_get(slug: str) -> Experiment:
    """The experiment with this slug, or a CommandError listing the ones that exist."""
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        known = ", ".join(Experiment.objects.values_list("slug", flat=True)) or "none yet"
        raise CommandError(
            f"No experiment {slug!r} (existing: {known}); create it in the admin first."
        )
    return experiment
