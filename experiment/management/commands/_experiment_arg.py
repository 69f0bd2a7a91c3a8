"""The --experiment SLUG and --out FILE arguments shared by the experiment commands."""

from pathlib import Path
from typing import TextIO

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


def csv_out_open(out: Path) -> TextIO:
    """`out` opened for writing CSV, or a CommandError when its folder does not exist."""
    out = Path(out)
    if not out.parent.is_dir():
        raise CommandError(f"Cannot write {out}: folder {out.parent} does not exist.")
    return out.open("w", newline="", encoding="utf-8")
