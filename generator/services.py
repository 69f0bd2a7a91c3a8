"""Django side of the generator: panels written by generate_panels become experiment panels."""

from pathlib import Path

import numpy as np
from PIL import Image

from experiment.models import Experiment, Panel
from experiment.services import panel_register
from generator.am import outputs
from generator.am.outputs import settings_differences
from generator.am.provenance import SETTINGS_DEFAULTS, WEIGHTS_PATHS


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


class PanelSettingsConflict(ValueError):
    """A unit already has a panel in the experiment, made with other settings."""


def generated_panels_register(
    *, experiment: Experiment, root: Path, network: str, layer: str, units: list[int]
) -> list[Panel]:
    """Register the finished units' panels in `experiment`; returns the newly stored panels.

    A unit registered before with the same settings is skipped. A unit that already has a panel
    made otherwise (another method, seed, number of iterations..., or imported from a file)
    stops the whole registration before anything is stored: the analysis pools a unit's
    ratings, so an experiment holds at most one panel per unit. Compare methods in separate
    experiments.
    """
    stored_units = [_unit_read(root, unit) for unit in outputs.done_units(root, units)]
    _settings_conflicts_check(experiment, network, layer, stored_units)
    panels = []
    for stored in stored_units:
        panel = panel_register(
            experiment=experiment,
            image_path=stored["panel"],
            source=panel_source(network=network, layer=layer, unit=stored["unit"]),
            network=network,
            layer=layer,
            unit=stored["unit"],
            metadata=panel_metadata(stored),
        )
        if panel is not None:
            panels.append(panel)
    return panels


def folder_panels_register(*, experiment: Experiment, root: Path) -> tuple[dict, list[Panel]]:
    """Register every finished unit of a generate_panels output folder, written here or on
    another machine and copied: (the folder's settings, the newly stored panels).

    Needs neither the networks nor their weights: what made the panels is in the folder.
    FolderNotPanels when `root` holds no finished unit.
    """
    root = Path(root)
    settings = outputs.recorded_settings(root) if root.is_dir() else None
    units = outputs.finished_units(root) if settings is not None else []
    if not units:
        raise FolderNotPanels(
            f"{root} holds no finished units of generate_panels (unit_NNNNN folders beside a "
            "settings.json); give the folder of one network layer, e.g. var/am/alexnet/fc6"
        )
    panels = generated_panels_register(
        experiment=experiment,
        root=root,
        network=settings["network"],
        layer=settings["layer"],
        units=units,
    )
    return settings, panels


class FolderNotPanels(ValueError):
    """A folder given for registration that is not (or not yet) generate_panels output."""


def _unit_read(root: Path, unit: int) -> dict:
    """A finished unit's files, or FolderNotPanels naming what is missing (a copy that stopped
    half way, say): checked for every unit before any is registered."""
    try:
        stored = outputs.unit_read(root, unit)
    except (OSError, ValueError, KeyError) as error:
        raise FolderNotPanels(
            f"{outputs.unit_dir(root, unit)} is incomplete or damaged ({error}); copy it again "
            "or generate the unit again. Nothing was registered."
        ) from None
    try:
        with Image.open(stored["panel"]) as panel:
            panel.verify()  # every chunk there, checksums right: milliseconds, not a decode
    except (OSError, SyntaxError) as error:  # SyntaxError: Pillow's "broken PNG file"
        raise FolderNotPanels(
            f"{stored['panel']} is missing or damaged ({error}); copy the unit again. "
            "Nothing was registered."
        ) from None
    return stored


def _settings_conflicts_check(experiment, network, layer, stored_units) -> None:
    existing: dict[int, list[Panel]] = {}
    for panel in Panel.objects.filter(
        experiment=experiment, is_practice=False, network=network, layer=layer
    ).filter(unit__in=[stored["unit"] for stored in stored_units]):
        existing.setdefault(panel.unit, []).append(panel)
    conflicts = []
    for stored in stored_units:
        for panel in existing.get(stored["unit"], []):
            recorded = panel.metadata.get("settings")
            if recorded is None:
                conflicts.append(f"unit {stored['unit']} (a panel imported from {panel.source})")
                continue
            differing = settings_differences(
                recorded, stored["settings"], SETTINGS_DEFAULTS, WEIGHTS_PATHS
            )
            if differing:
                conflicts.append(f"unit {stored['unit']} (differing: {', '.join(differing)})")
    if conflicts:
        more = f"; and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        shown = "; ".join(conflicts[:5]) + more
        raise PanelSettingsConflict(
            f"Experiment {experiment.slug} already has {network}/{layer} panels for these units, "
            f"made otherwise: {shown}. Nothing was registered; an experiment holds at most one "
            "panel per unit, so register these panels in another experiment."
        )
