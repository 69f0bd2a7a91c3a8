"""Django side of the generator: panels written by generate_panels become experiment panels."""

from pathlib import Path

import numpy as np

from experiment.models import Experiment, Panel
from experiment.services import panel_register
from generator.am import outputs


class ExperimentNotFoundError(LookupError):
    """The experiment named to receive the panels does not exist."""


def experiment_for_panels(*, slug: str) -> Experiment:
    """The experiment called `slug`; never created here, so a typo cannot start a new study."""
    try:
        return Experiment.objects.get(slug=slug)
    except Experiment.DoesNotExist:
        known = ", ".join(Experiment.objects.values_list("slug", flat=True)) or "none yet"
        raise ExperimentNotFoundError(
            f"No experiment with slug {slug!r} (existing: {known}); create it first, "
            "e.g. in the admin, or leave out --experiment to only write the panels"
        ) from None


def panel_source(*, network: str, layer: str, unit: int) -> str:
    """The stable key of a unit's panel: re-registering the same unit is a no-op."""
    return f"{network}/{layer}/{unit}"


def panel_metadata(stored: dict) -> dict:
    """What a panel keeps of its unit folder: settings, activation summary, quality report."""
    activations = np.array([image["activation"] for image in stored["images"]])
    return {
        "settings": stored["settings"],
        "activations": {
            "mean": float(activations.mean()),
            "max": float(activations.max()),
            "min": float(activations.min()),
            "images": len(activations),
        },
        "seeds": [image["seed"] for image in stored["images"]],
        "quality": stored["quality"],
        "folder": str(stored["folder"]),
    }


def generated_panels_register(
    *, experiment: Experiment, root: Path, network: str, layer: str, units: list[int]
) -> list[Panel]:
    """Register the finished units' panels in `experiment`; returns the newly stored panels."""
    panels = []
    for unit in outputs.done_units(root, units):
        stored = outputs.unit_read(root, unit)
        panel = panel_register(
            experiment=experiment,
            image_path=stored["panel"],
            source=panel_source(network=network, layer=layer, unit=unit),
            network=network,
            layer=layer,
            unit=unit,
            metadata=panel_metadata(stored),
        )
        if panel is not None:
            panels.append(panel)
    return panels
