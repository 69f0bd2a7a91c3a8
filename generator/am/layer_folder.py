"""A layer's output folder as a whole: claiming it, its settings and planned units, refusals.

Runs hold the folder (`folder_claim`) while they write: a run into a folder where others are
writing (torchrun's other ranks, or a second run by mistake) must have their settings, and where
two write one unit, the first rename wins and the other copy is dropped. A run alone in the
folder removes the partial folders interrupted runs left. The folder's layout, and the writing
and reading of each unit in it, are generator/am/outputs.py's.
"""

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from generator.am.outputs import (
    PARTIAL_PREFIX,
    SETTINGS_FILE,
    UNIT_PREFIX,
    json_read,
    json_write_atomic,
    settings_read,
    unit_dirname,
)

PLANNED_FILE = "planned_units.json"  # every unit runs into the folder were asked for
STALE_PARTIAL_SECONDS = 3600  # another unit's partial folder this old is an interrupted run's
RUNS_LOCK = ".runs.lock"  # every run writing into the folder holds it shared
CLAIM_LOCK = ".claim.lock"  # held while a run compares or records its settings
UNIT_FILES = ("activations.json", "panel.png", "images")  # a folder holding any is a unit's


class OutputMismatchError(ValueError):
    """The output folder holds units made with other settings."""


@dataclass(frozen=True)
class SettingsRules:
    """How a recording's settings compare with a run's.

    A name missing from either side takes its value in `defaults` (settings added after the
    recording was made); one missing from a side and from `defaults` is not compared (it was
    not recorded then, so nothing is known of it). Values compare as they read back from JSON,
    after `normalise` (which writes each side's settings as the generator records them now);
    `ignored` names are recorded but not compared.
    """

    defaults: dict = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    normalise: Callable[[dict], dict] = lambda settings: settings

    def differences(self, recorded: dict, settings: dict) -> list[str]:
        """Sorted names of the settings that differ between a recording and a run."""
        defaults = json.loads(json.dumps(self.defaults))
        recorded = self.normalise({**defaults, **json.loads(json.dumps(recorded))})
        settings = self.normalise({**defaults, **json.loads(json.dumps(settings))})
        return sorted(
            key
            for key in recorded.keys() & settings.keys()
            if key not in self.ignored and recorded[key] != settings[key]
        )


def finished_units(root: Path) -> list[int]:
    """Every unit whose folder is in root, in unit order (partial folders are hidden);
    OutputMismatchError naming the folders named like units otherwise than `unit_dirname`
    names them (see misnamed_refuse)."""
    misnamed_refuse(root)
    folders = [folder for folder in Path(root).glob(f"{UNIT_PREFIX}*") if folder.is_dir()]
    return sorted(unit for folder in folders if (unit := _unit_named(folder.name)) is not None)


def _unit_named(name: str) -> int | None:
    """The unit whose folder `name` is, as unit_dirname writes it; None for any other name."""
    number = name.removeprefix(UNIT_PREFIX)
    if number == name or not (number.isascii() and number.isdigit()):
        return None
    return int(number) if unit_dirname(int(number)) == name else None


def misnamed_refuse(root: Path) -> None:
    """OutputMismatchError naming the folders in root that look like unit folders under another
    name than the writer gives (`unit_000003` or `unit_3` for unit_00003, `unit_00003 copy`):
    runs and registration look units up by that name, so such a folder would be dropped without
    a word, or counted twice beside the right one."""
    root = Path(root)
    names = sorted(
        folder.name
        for folder in root.glob(f"{UNIT_PREFIX}*")
        if folder.is_dir() and _unit_named(folder.name) is None
    )
    if not names:
        return
    problems = []
    for name in names:
        number = name.removeprefix(UNIT_PREFIX)
        if not (number.isascii() and number.isdigit()):
            problems.append(f"{name}: not the name of a unit folder")
            continue
        right = unit_dirname(int(number))
        there = " (which is there too: this is a second copy)" if (root / right).is_dir() else ""
        problems.append(f"{name}: unit {int(number)}'s folder is named {right}{there}")
    raise OutputMismatchError(
        f"{root} holds {len(names)} folder(s) named like units, but not as generate_panels "
        "names them, so they would not be counted as the units they hold:\n"
        + listed(problems)
        + f"\nRename each to its unit's name (such as {unit_dirname(3)}), or move it out of "
        f"{root} (a second copy, or not a unit), then run again."
    )


def units_plan(root: Path, units: list[int], *, replace: bool = False) -> None:
    """Add `units` to the folder's planned units, so that a copy of it can tell which finished
    units it lacks; or, with `replace` (a run alone in a folder holding no unit, which takes
    its settings too), make them the plan, so an earlier run that stopped before its first unit
    leaves no units planned that no run makes. Ranks of one run write the same full list, so
    their order does not matter."""
    planned = set(units) if replace else set(planned_units(root)) | set(units)
    json_write_atomic(Path(root) / PLANNED_FILE, {"units": sorted(planned)})


def planned_units(root: Path) -> list[int]:
    """The units runs into root were asked for ([] for folders written before this was kept);
    ValueError naming the file when it is not the list it should be."""
    path = Path(root) / PLANNED_FILE
    if not path.exists():
        return []
    planned = json_read(path)
    units = planned.get("units") if isinstance(planned, dict) else None
    if not isinstance(units, list) or not all(type(unit) is int and unit >= 0 for unit in units):
        raise ValueError(f"{path} does not hold the list of planned units it should")
    return units


def clean_partials(root: Path, units: Iterable[int]) -> list[Path]:
    """Remove half-written unit folders in root left by interrupted runs; return them. Only for
    a run alone in the folder (`folder_claim`): those of its own `units`, and the others once
    an hour old. (On some network file systems, ranks on other machines do not see each
    other's locks, and each thinks itself alone: their partial folders are live and young.)"""
    own = {unit_dirname(unit) for unit in units}
    stale_before = time.time() - STALE_PARTIAL_SECONDS
    removed = [
        partial  # .partial-unit_00042.<random> (older runs': .partial-unit_00042)
        for partial in sorted(Path(root).glob(f"{PARTIAL_PREFIX}*"))
        if partial.name.removeprefix(PARTIAL_PREFIX).split(".")[0] in own
        or partial.stat().st_mtime < stale_before
    ]
    for partial in removed:
        shutil.rmtree(partial)
    return removed


@contextmanager
def folder_claim(
    root: Path,
    settings: dict,
    rules: SettingsRules | None = None,
    *,
    units: Iterable[int] = (),
    planned: Iterable[int] = (),
) -> Iterator[bool]:
    """Hold `root` for a run writing `units` with `settings` (see settings_claim), asked for
    the `planned` units (units_plan), until the block ends; yields whether the run is alone
    there (no other run holds it).

    Every run holds the folder's runs lock shared while it writes, so a run can tell whether
    others are writing: torchrun's other ranks, or a second run started by mistake. Claims
    happen one at a time: the first run to claim a folder without finished units records its
    settings, and every run claiming while it holds the folder must have the same. A run alone
    removes the partial folders that interrupted runs left. OutputMismatchError, before
    anything is written, where `root` is a unit's folder or lies inside one (unit_folder_refuse).
    """
    root = Path(root)
    unit_folder_refuse(root)
    root.mkdir(parents=True, exist_ok=True)
    runs = _lock_open(root / RUNS_LOCK)
    try:
        with _locked(root / CLAIM_LOCK):
            try:
                fcntl.flock(runs, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                alone = False
            if alone:
                clean_partials(root, units)
            fresh = alone and not _holds_units(root)  # it takes the new settings
            settings_claim(root, settings, rules, others_writing=not alone)
            units_plan(root, list(planned), replace=fresh)
            fcntl.flock(runs, fcntl.LOCK_SH)  # (the claim lock keeps others out meanwhile)
        yield alone
    finally:
        os.close(runs)  # releases the runs lock


def unit_folder_refuse(root: Path) -> None:
    """OutputMismatchError where `root` is a unit's folder or lies inside one (`--out` given a
    unit of a layer folder): a run there would replace the unit's settings.json and write unit
    folders inside it, damaging the unit and its layer folder."""
    root = Path(root).resolve()
    folder = unit_folder_around(root)
    if folder is not None:
        where = "is" if folder == root else "lies inside"
        raise OutputMismatchError(
            f"{root} {where} the folder of a unit ({folder.name}) of the output folder "
            f"{folder.parent}; writing there would damage that unit. Give the output "
            f"folder itself (--out {folder.parent}) to resume it, or another --out folder."
        )


def unit_folder_around(path: Path) -> Path | None:
    """The folder of a generated unit that `path` is or lies in (resolved), or None."""
    path = Path(path).resolve()
    return next((folder for folder in (path, *path.parents) if _is_unit_folder(folder)), None)


def _is_unit_folder(folder: Path) -> bool:
    """Whether `folder` is named exactly as the writer names a unit's folder (unit_00003, or
    its partial folder .partial-unit_00003.xyz) and holds a unit's files or lies in a folder
    holding a run's settings or plan. (A folder merely named unit_tests is no unit's.)"""
    name = folder.name
    if name.startswith(PARTIAL_PREFIX):
        name = name.removeprefix(PARTIAL_PREFIX).partition(".")[0]
    if _unit_named(name) is None:
        return False
    return any((folder / name).exists() for name in UNIT_FILES) or any(
        (folder.parent / name).is_file() for name in (SETTINGS_FILE, PLANNED_FILE)
    )


def _lock_open(path: Path) -> int:
    """A descriptor of the lock file `path`, made if missing, writable by whoever the umask
    lets (people sharing a folder); read-only where another user's file is not writable (a
    lock needs no write access)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made if missing) inside the block, waiting for it."""
    descriptor = _lock_open(path)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def settings_claim(
    root: Path,
    settings: dict,
    rules: SettingsRules | None = None,
    *,
    others_writing: bool = False,
) -> None:
    """Record the run's settings in root, or check they equal those already recorded there.

    Raises OutputMismatchError when the folder holds units made with other settings, since a
    panel set mixing settings would be rated as if it were one experiment condition; `rules`
    say how settings compare (SettingsRules). A folder with no unit finished or being
    written (a run that stopped before its first unit, say on a mistyped weights path) takes the
    new settings, unless `others_writing` (folder_claim): then the settings the running ones
    recorded hold, though none of their units is finished yet. A `root` that is a unit's folder
    or lies inside one is refused (unit_folder_refuse).
    """
    root = Path(root)
    unit_folder_refuse(root)
    root.mkdir(parents=True, exist_ok=True)
    recorded = recorded_settings(root)
    if recorded is None and others_writing and (root / SETTINGS_FILE).exists():
        recorded = settings_read(root / SETTINGS_FILE)
    if recorded is None:
        _foreign_settings_refuse(root / SETTINGS_FILE)
        json_write_atomic(root / SETTINGS_FILE, settings)
        return
    _folder_settings_check(root, recorded, rules)
    changed = (rules or SettingsRules()).differences(recorded, settings)
    if not changed:
        return
    advice = "use the same settings to resume, or another --out folder"
    if changed == ["reference_sha256"]:
        folder = recorded.get("reference")
        same = (
            f"--reference {folder} (or the same images elsewhere)" if folder else "no --reference"
        )
        advice = (
            "their quality reports were measured against another reference set of natural "
            f"images; resume with {same}, or give another --out folder"
        )
    # Only what is in the weights files differs (their paths are not compared): else the other
    # settings explain it (a method that uses no generator, say).
    if changed == ["weights_sha256"]:
        before, now = recorded.get("weights_sha256") or {}, settings.get("weights_sha256") or {}
        roles = ", ".join(
            role for role in sorted({*before, *now}) if before.get(role) != now.get(role)
        )
        advice = (
            f"the weights file of the {roles} is not the one the folder's units were made with "
            "(replaced, retrained, or a copy cut short: its SHA-256 differs); give that file, "
            "or use another --out folder"
        )
    if "version" in changed:
        advice = (
            "they were made by another version of the generator, which makes other pictures "
            "from the same settings (docs/generator.md, 'Versions'); use another --out folder"
        )
    raise OutputMismatchError(
        f"{root} holds units made (or being made) with other settings (differing: "
        f"{', '.join(changed)}); {advice}"
    )


def _folder_settings_check(root: Path, recorded: dict, rules: SettingsRules | None) -> None:
    """OutputMismatchError where the folder's settings differ from its first finished unit's
    copy of them (readable ones only: a damaged unit is named by the run that asks for it). One
    of the two was edited or copied in from another run, and a run trusting the folder's file
    could add units made otherwise. (The run checks every unit it skips as done, unit_check;
    this stands for the units no run asks for.)"""
    for copy in sorted(root.glob(f"{UNIT_PREFIX}*/{SETTINGS_FILE}")):
        try:
            unit_settings = settings_read(copy)
        except ValueError:
            continue
        differing = (rules or SettingsRules()).differences(unit_settings, recorded)
        if differing:
            raise OutputMismatchError(
                f"{root / SETTINGS_FILE} and {copy} record other settings (differing: "
                f"{', '.join(differing)}), so {root} may hold units made two ways: one of the "
                "files was edited, or a unit or the folder's file copied in from another run. "
                "Compare them with the other units' settings.json, move out the units made "
                "otherwise (or put back the folder's own file), then run again."
            )
        return


def _foreign_settings_refuse(path: Path) -> None:
    """OutputMismatchError where `path` is a settings file that no run of ours wrote (--out
    pointed at another tool's folder, say), rather than overwrite it."""
    if not path.exists():
        return
    try:
        ours = "iterations" in json.loads(path.read_text())  # every run's settings have it
    except (OSError, ValueError, TypeError):
        ours = False
    if not ours:
        raise OutputMismatchError(
            f"{path} was not written by generate_panels, so {path.parent} seems another "
            "tool's folder; give another --out folder (or remove that file)"
        )


def recorded_settings(root: Path) -> dict | None:
    """The settings the units in `root` were made with; None when no unit is finished or being
    written. The folder's own file, else (lost, or units copied in) a finished unit's copy."""
    root = Path(root)
    if not _holds_units(root):
        return None
    for path in [root / SETTINGS_FILE, *sorted(root.glob(f"{UNIT_PREFIX}*/{SETTINGS_FILE}"))]:
        if path.exists():
            return settings_read(path)
    return None


def _holds_units(root: Path) -> bool:
    """Whether root holds a unit folder, finished or being written."""
    return any(root.glob(f"{UNIT_PREFIX}*")) or any(root.glob(f"{PARTIAL_PREFIX}*"))


def listed(problems: list[str], shown: int = 20) -> str:
    """One problem a line, the first `shown` of them, and how many more there are."""
    more = len(problems) - shown
    return "\n".join(problems[:shown]) + (f"\n... and {more} more" if more > 0 else "")
