"""Django side of the generator: panels written by generate_panels become experiment panels."""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from django.db import IntegrityError
from PIL import Image

from experiment.models import Experiment, Panel
from experiment.services import panel_refusal_raise, panel_register, panels_stored_together
from generator.am import layer_folder, outputs, unit_check
from generator.am.provenance import QUALITY_FIELDS, SETTINGS_RULES

# An experiment's panels are compared by what made their pictures; a unit folder's also by the
# reference set its quality report was measured against.
PICTURE_RULES = replace(SETTINGS_RULES, ignored=(*SETTINGS_RULES.ignored, *QUALITY_FIELDS))
# What registering a folder reads of its settings itself (the rest it only compares).
REGISTRATION_SETTINGS = ("network", "layer")


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
    settings = layer_folder.recorded_settings(root)
    stored_units = _units_read(root, outputs.done_units(root, units), settings)
    _settings_conflicts_check(experiment, network, layer, stored_units)
    try:
        with panels_stored_together() as panels:  # a folder's panels, all or none
            for stored in stored_units:
                panel_register(
                    experiment=experiment,
                    image_path=stored["panel"],
                    source=panel_source(network=network, layer=layer, unit=stored["unit"]),
                    network=network,
                    layer=layer,
                    unit=stored["unit"],
                    metadata=stored["metadata"],
                    stored_in=panels,  # before its files are written: Ctrl-C leaves none behind
                )
    except IntegrityError as error:  # stored: the unit whose panel was refused
        raise _refusal_explained(
            error, experiment=experiment, root=root, unit=stored["unit"]
        ) from None
    return panels


def _refusal_explained(error: IntegrityError, *, experiment, root: Path, unit: int) -> ValueError:
    """What the database's refusal of `unit`'s panel means for the user (nothing of the folder
    was stored): a registration that ran at the same moment, or the panel itself refused."""
    again = f"run register_panels {root} --experiment {experiment.slug} again"
    if _is_panel_uniqueness(error):
        return ValueError(
            f"{root}: another registration stored some of these panels meanwhile (unit {unit}); "
            f"nothing of this folder was registered: {again}."
        )
    return ValueError(
        f"{root}: the database refused the panel of unit {unit} ({error}); nothing of this "
        f"folder was registered. Check {outputs.unit_dir(root, unit)} (move it out of the "
        "folder to register the others), or report this message."
    )


def _is_panel_uniqueness(error: IntegrityError) -> bool:
    """Whether `error` is a panel's source (or unit) already taken in its experiment: the
    constraint's name on PostgreSQL, the table's columns in SQLite's message."""
    names = {constraint.name for constraint in Panel._meta.constraints}
    diagnosis = getattr(error.__cause__, "diag", None)  # psycopg
    if getattr(diagnosis, "constraint_name", None):
        return diagnosis.constraint_name in names
    return str(error).startswith(f"UNIQUE constraint failed: {Panel._meta.db_table}.")


def registration_refusal_raise(
    *, experiment: Experiment, network: str, layer: str, units: list[int], settings: dict
) -> None:
    """What registering a run's panels would refuse, found before the run's hours of sampling:
    PanelSettingsConflict where a unit already has a panel in the experiment made otherwise,
    PanelRefused where a unit has none yet but the experiment takes no new panels (it has
    participants or pilot runs)."""
    planned = [{"unit": unit, "settings": settings} for unit in units]
    _settings_conflicts_check(experiment, network, layer, planned)
    prefix = panel_source(network=network, layer=layer, unit=0).removesuffix("0")
    registered = set(
        Panel.objects.filter(experiment=experiment, source__startswith=prefix).values_list(
            "source", flat=True
        )
    )
    new = [
        source
        for unit in units
        if (source := panel_source(network=network, layer=layer, unit=unit)) not in registered
    ]
    if new:
        panel_refusal_raise(experiment=experiment, source=new[0])


@dataclass(frozen=True)
class FolderRegistration:
    """What registering one output folder did."""

    settings: dict  # what made the folder's panels
    panels: list[Panel]  # newly registered
    finished: int  # units in the folder
    missing: list[int]  # units runs into it were asked for but that are not (yet) in this copy


def folder_panels_register(*, experiment: Experiment, root: Path) -> FolderRegistration:
    """Register every finished unit of a generate_panels output folder, written here or on
    another machine and copied; what was registered, and which planned units are missing.

    Needs neither the networks nor their weights: what made the panels is in the folder.
    FolderNotPanels when `root` holds no finished unit.
    """
    root = Path(root)
    settings = layer_folder.recorded_settings(root) if root.is_dir() else None
    units = layer_folder.finished_units(root) if settings is not None else []
    if not units:
        raise FolderNotPanels(_not_panels_message(root))
    _registration_settings_check(root, settings)
    missing = sorted(set(layer_folder.planned_units(root)) - set(units))
    panels = generated_panels_register(
        experiment=experiment,
        root=root,
        network=settings["network"],
        layer=settings["layer"],
        units=units,
    )
    return FolderRegistration(settings, panels, len(units), missing)


def settings_mix_message(*, experiment: Experiment, network: str, layer: str) -> str:
    """A warning when the experiment's main panels of one layer were not all made the same way
    (they are pooled as one condition), else ""."""
    panels = Panel.objects.filter(
        experiment=experiment, is_practice=False, network=network, layer=layer
    ).only("metadata")
    recorded = [panel.metadata.get("settings") for panel in panels]
    made = [settings for settings in recorded if settings is not None]
    differing = sorted(
        {name for settings in made[1:] for name in PICTURE_RULES.differences(made[0], settings)}
    )
    imported = len(recorded) - len(made)
    if not differing and not (imported and made):
        return ""
    how = f"settings differ: {', '.join(differing)}" if differing else ""
    if imported and made:
        how += f"{'; ' if how else ''}{imported} imported beside {len(made)} generated"
    return (
        f"Note: the {network} {layer} panels of {experiment.slug} were not all made the same way "
        f"({how}); the analysis pools them as one condition. Keep one condition per experiment."
    )


def _not_panels_message(root: Path) -> str:
    """Why `root` is not a generate_panels layer folder, and which folder to give instead."""
    if root.is_file():
        return (
            f"{root} is a file, not a folder: give the output folder of generate_panels for one "
            "network layer (the folder holding settings.json and unit_NNNNN folders), e.g. "
            "var/am/alexnet/fc6"
        )
    if not root.is_dir():
        return f"{root} does not exist"
    layers = sorted(p.name for p in root.iterdir() if p.is_dir() and _holds_units(p))
    if layers:
        return (
            f"{root} holds the folders of layers ({', '.join(layers)}), not units; give each "
            f"of them, e.g. {root / layers[0]}"
        )
    return (
        f"{root} holds no finished units of generate_panels (unit_NNNNN folders beside a "
        "settings.json); give the folder of one network layer, e.g. var/am/alexnet/fc6"
    )


class FolderNotPanels(ValueError):
    """A folder given for registration that is not (or not yet) generate_panels output."""


def _registration_settings_check(root: Path, settings: dict) -> None:
    """FolderNotPanels naming the settings file and the settings it lacks that registering
    reads (a file cut short or edited by hand)."""
    lacking = [
        name
        for name in REGISTRATION_SETTINGS
        if not isinstance(settings.get(name), str) or not settings[name]
    ]
    if not lacking:
        return
    path = root / outputs.SETTINGS_FILE
    where = str(path) if path.exists() else f"The settings.json of the units in {root}"
    raise FolderNotPanels(
        f"{where} is damaged or incomplete: it lacks {', '.join(lacking)}. Copy it again from "
        "where the panels were made (or, for the folder's own settings.json, remove it: each "
        "unit keeps a copy). Nothing was registered."
    )


def _units_read(root: Path, units: list[int], settings: dict) -> list[dict]:
    """The finished units' files, every one checked before any is registered; FolderNotPanels
    naming each unit whose copy is incomplete or damaged (a copy that stopped half way, say), or
    that was made otherwise than the folder's `settings` (copied in from another run)."""
    stored_units, problems = [], []
    for unit in units:
        try:
            stored_units.append(_unit_read(root, unit, settings))
        except ValueError as error:
            problems.append(f"{outputs.unit_dir(root, unit)}: {error}")
    if problems:
        raise FolderNotPanels(
            f"{len(problems)} of {len(units)} units are incomplete, damaged or not made by the "
            "folder's settings (its settings.json); copy them again, or move them out of the "
            "folder and generate them again. Nothing was registered.\n"
            + layer_folder.listed(problems)
        )
    return stored_units


def _unit_read(root: Path, unit: int, settings: dict) -> dict:
    """A finished unit's files; ValueError naming the one that is missing or damaged, or the
    settings in which it differs from the folder's `settings`."""
    problem = unit_check.unit_problem(root, unit, settings, SETTINGS_RULES)
    if problem:
        raise ValueError(problem)
    stored = outputs.unit_read(root, unit)
    try:
        with Image.open(stored["panel"]) as panel:
            panel.verify()  # every chunk there, checksums right: milliseconds, not a decode
    except (OSError, SyntaxError) as error:  # SyntaxError: Pillow's "broken PNG file"
        raise ValueError(f"panel.png: {error}") from None
    metadata = panel_metadata(stored)
    _finite_check(stored, metadata)
    return stored | {"metadata": metadata}


def _holds_units(folder: Path) -> bool:
    """Whether `folder` holds finished units (or folders named like them, which
    finished_units refuses: a message about the folder above must not fail on them)."""
    try:
        return bool(layer_folder.finished_units(folder))
    except layer_folder.OutputMismatchError:
        return True


def _finite_check(stored: dict, metadata: dict) -> None:
    """ValueError where the panel's metadata holds NaN or an infinity, which JSON has not (the
    database refuses them, or reads them back as null). unit_read already refuses them in the
    images' records and the quality report; finite activations may still sum past the largest
    float, and a hand-edited settings.json may hold one."""
    try:
        json.dumps(metadata, allow_nan=False)
    except ValueError:
        raise ValueError(
            f"{outputs.SETTINGS_FILE} or the activations' mean holds NaN or an infinite number, "
            "which a panel cannot store: check the unit's settings.json against the folder's, "
            "or make the unit again"
        ) from None


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
            differing = PICTURE_RULES.differences(recorded, stored["settings"])
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
