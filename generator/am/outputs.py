"""Per-unit output folders: atomic writes, resume, settings checks, quality reports.

Layout of an output folder (one per network and layer)::

    OUT/settings.json                 the run's settings (every unit below was made with them)
    OUT/planned_units.json            every unit the runs were asked for (finished or not)
    OUT/unit_00042/panel.png          full-resolution rows x cols panel
    OUT/unit_00042/panel_web.jpg      web-friendly panel (longest side 1000 px)
    OUT/unit_00042/images/000.png ... each AM picture (what the network saw), in panel order
    OUT/unit_00042/activations.json   seed, start and final activation (and class) of each image
    OUT/unit_00042/quality.json       the unit's quality report
    OUT/unit_00042/settings.json      the settings again, so a panel folder stands on its own

A unit is written into a partial folder of its writer's own (`.partial-unit_00042.<random>`) and
renamed into place at the end, so a unit folder exists only when it is complete; an interrupted
run leaves a partial folder that the next run alone in the folder removes. Runs hold the folder
(`folder_claim`) while they write: a run into a folder where others are writing (torchrun's
other ranks, or a second run by mistake) must have their settings, and where two write one unit,
the first rename wins and the other copy is dropped.
"""

import errno
import fcntl
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generator.am import grid

SETTINGS_FILE = "settings.json"
PLANNED_FILE = "planned_units.json"  # every unit runs into the folder were asked for
UNIT_PREFIX = "unit_"
PARTIAL_PREFIX = ".partial-"
STALE_PARTIAL_SECONDS = 3600  # another unit's partial folder this old is an interrupted run's
RUNS_LOCK = ".runs.lock"  # every run writing into the folder holds it shared
CLAIM_LOCK = ".claim.lock"  # held while a run compares or records its settings
UNIT_FILES = ("activations.json", "panel.png", "images")  # a folder holding any is a unit's
# How the files a writer makes end: a truncated copy lacks its end. Reading a file's last bytes
# costs no decode, so resuming thousands of units stays fast.
FILE_ENDS = {
    "PNG": b"\x00\x00\x00\x00IEND\xaeB`\x82",  # the IEND chunk: no data, then its CRC
    "JPEG": b"\xff\xd9",  # the end-of-image marker
}

# Threads flushing a finished unit's files to disk all at once rather than one after another:
# a flush mostly waits for the disk, and the file system commits many in one go. 2-3.5x faster
# for a unit's 107 files and folders on the sandbox's disk (docs/benchmarks.md); more where
# each flush waits on a network disk. Shared by the writer threads of a run.
_FLUSHERS = ThreadPoolExecutor(32, thread_name_prefix="unit-flush")
# Threads checking finished units on resume: each opens its unit's 100 pictures to read their
# last bytes, which waits for the disk where it is not cached (on a network disk, a round trip
# a file). With the files cached, one thread is as fast: 1.2 ms a unit on the sandbox, 0.45 ms
# before the pictures' ends were read, so 4 s in all for the paper's 3,299 units.
_CHECKERS = ThreadPoolExecutor(16, thread_name_prefix="unit-check")


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


@dataclass(frozen=True)
class UnitResult:
    """What the sampler produced for one unit; lists are in image (panel) order."""

    unit: int
    images: torch.Tensor | np.ndarray  # (N, 3, H, W) float in [0, 1], or (N, H, W, 3) uint8
    seeds: list[int]
    start_activations: list[float]
    activations: list[float]
    predicted_classes: list[int] | None = None  # the network's top-1 class of each image


def unit_dirname(unit: int) -> str:
    """Folder name of a unit; zero-padded so folders sort by unit."""
    return f"{UNIT_PREFIX}{unit:05d}"


def unit_dir(root: Path, unit: int) -> Path:
    """Folder of a finished unit."""
    return Path(root) / unit_dirname(unit)


def is_done(root: Path, unit: int) -> bool:
    """Whether the unit's folder is complete (it only appears by an atomic rename)."""
    return unit_dir(root, unit).is_dir()


def pending_units(root: Path, units: list[int]) -> list[int]:
    """The units not yet done, in the given order."""
    return [unit for unit in units if not is_done(root, unit)]


def done_units(root: Path, units: list[int]) -> list[int]:
    """The units already done, in the given order."""
    return [unit for unit in units if is_done(root, unit)]


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
    planned = _json_read(path)
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
    for folder in (root, *root.parents):
        if _is_unit_folder(folder):
            where = "is" if folder == root else "lies inside"
            raise OutputMismatchError(
                f"{root} {where} the folder of a unit ({folder.name}) of the output folder "
                f"{folder.parent}; writing there would damage that unit. Give the output "
                f"folder itself (--out {folder.parent}) to resume it, or another --out folder."
            )


def _is_unit_folder(folder: Path) -> bool:
    """Whether `folder` is named as a unit's (or its partial folder) and holds a unit's files
    or lies in a folder holding a run's settings or plan."""
    if not folder.name.startswith((UNIT_PREFIX, PARTIAL_PREFIX + UNIT_PREFIX)):
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


def json_write_atomic(path: Path, payload: dict) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file.

    The temporary file has a unique name: ranks on several machines sharing a folder may have
    the same process id.
    """
    path = Path(path)
    text = _json_text(payload)  # (before the file: a value JSON cannot hold leaves none)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.chmod(temporary, 0o644)  # mkstemp makes it private
    os.replace(temporary, path)


def _json_text(payload: dict) -> str:
    """JSON text of `payload`; ValueError for NaN or inf, which JSON cannot hold (Python would
    write them as NaN and Infinity, which other readers and the database refuse)."""
    return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"


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
        recorded = _settings_read(root / SETTINGS_FILE)
    if recorded is None:
        _foreign_settings_refuse(root / SETTINGS_FILE)
        json_write_atomic(root / SETTINGS_FILE, settings)
        return
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
    if "version" in changed:
        advice = (
            "they were made by another version of the generator, which makes other pictures "
            "from the same settings (docs/generator.md, 'Versions'); use another --out folder"
        )
    raise OutputMismatchError(
        f"{root} holds units made (or being made) with other settings (differing: "
        f"{', '.join(changed)}); {advice}"
    )


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
            return _settings_read(path)
    return None


def _holds_units(root: Path) -> bool:
    """Whether root holds a unit folder, finished or being written."""
    return any(root.glob(f"{UNIT_PREFIX}*")) or any(root.glob(f"{PARTIAL_PREFIX}*"))


def _settings_read(path: Path) -> dict:
    """A settings file's settings; ValueError naming the file when it is not a JSON object."""
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as settings: {error}") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path} cannot be read as settings: not a JSON object")
    return settings


def image_records(result: UnitResult) -> list[dict]:
    """One record per image: its index, seed, start and final activation (and class)."""
    records = []
    for index, seed in enumerate(result.seeds):
        record = {
            "index": index,
            "seed": int(seed),
            "start_activation": float(result.start_activations[index]),
            "activation": float(result.activations[index]),
        }
        if result.predicted_classes is not None:
            record["predicted_class"] = int(result.predicted_classes[index])
        records.append(record)
    return records


def unit_write(
    root: Path,
    result: UnitResult,
    *,
    settings: dict,
    quality: dict,
    rows: int,
    cols: int,
    execution: dict | None = None,
) -> Path:
    """Write a unit's panel, images, activations, quality and settings; atomically, by rename.

    `execution` (how the unit was run: batch size, device, speed options, torch version) goes
    into activations.json beside the images' records. ValueError naming the unit, before
    anything of it is written, where its activations or quality report hold NaN or inf.
    """
    records = {"unit": result.unit, "execution": execution, "images": image_records(result)}
    finite_check(result.unit, records["images"], quality)
    texts = {
        "activations.json": _json_text(records),
        "quality.json": _json_text(quality),
        SETTINGS_FILE: _json_text(settings),
    }
    final = unit_dir(root, result.unit)
    # A folder of this writer's own: another run may be writing the same unit (folder_claim).
    partial = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{final.name}.", dir=root))
    os.chmod(partial, 0o755)  # mkdtemp makes it private; unit folders are read by the server
    (partial / "images").mkdir()
    pixels = grid.to_uint8(result.images)  # (N, H, W, 3)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(
            partial / "images" / f"{index:03d}.png", compress_level=grid.PNG_COMPRESS_LEVEL
        )
    panel = grid.tile(pixels, rows, cols)
    panel.save(partial / "panel.png", compress_level=grid.PNG_COMPRESS_LEVEL)
    grid.web_size(panel).save(partial / "panel_web.jpg", quality=grid.WEB_JPEG_QUALITY)
    for name, text in texts.items():
        (partial / name).write_text(text)
    # A rename can reach the disk before the data it names: flush the unit first (every file
    # and folder in it), so a unit folder that exists after a power cut is whole.
    list(_FLUSHERS.map(_fsync, [*partial.rglob("*"), partial]))
    try:
        os.rename(partial, final)
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        shutil.rmtree(partial)  # another run wrote the unit first, with the same settings
        return final
    _fsync(Path(root))  # the rename itself (other units may be being written in there)
    return final


def finite_check(unit: int, records: list[dict], quality: dict) -> None:
    """ValueError naming the unit and what the network gave as NaN or inf: its images'
    activations, or else its quality report (the reference images' maximum, say)."""
    images = [
        record["index"]
        for record in records
        if not (math.isfinite(record["start_activation"]) and math.isfinite(record["activation"]))
    ]
    report = sorted(name for name, value in quality.items() if not _finite(value))
    if images:
        more = f" and {len(images) - 5} more" if len(images) > 5 else ""
        what = f"the activations of images {', '.join(map(str, images[:5]))}{more}"
    elif report:
        what = f"its quality report's {', '.join(report)}"
    else:
        return
    raise ValueError(
        f"unit {unit}: the network gave NaN or infinite values ({what}), so nothing of the unit "
        "was written; check the network's weights (a NaN or inf in them?) and settings, then "
        "run again"
    )


def _fsync(path: Path) -> None:
    """Flush one file's data, or one folder's entries, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def unit_read(root: Path, unit: int) -> dict:
    """A finished unit's stored settings, how it ran, image records and quality report;
    ValueError naming the file that is missing, damaged or not the JSON it should be."""
    folder = unit_dir(root, unit)
    activations = _json_read(folder / "activations.json")
    if not isinstance(activations, dict) or "images" not in activations:
        raise ValueError("activations.json: no image records")
    _records_check(activations["images"])
    return {
        "unit": unit,
        "recorded_unit": activations.get("unit", unit),  # the unit its images were made for
        "folder": folder,
        "panel": folder / "panel.png",
        "settings": _settings_read(folder / SETTINGS_FILE),
        "execution": activations.get("execution"),  # None: written before it was recorded
        "images": activations["images"],
        "quality": _quality_check(_json_read(folder / "quality.json")),
    }


def _records_check(records) -> None:
    """ValueError unless `records` are image records as `image_records` writes them, with
    finite activations (a hand-edited file may hold NaN, which JSON readers take)."""
    kinds = {"index": (int,), "seed": (int,), "activation": (int, float)}
    if not isinstance(records, list) or not records:
        raise ValueError("activations.json: no image records")
    for position, record in enumerate(records):
        if not isinstance(record, dict) or any(
            type(record.get(name)) not in kind for name, kind in kinds.items()
        ):
            raise ValueError(f"activations.json: image record {position} is damaged")
        values = [record["activation"], record.get("start_activation", 0.0)]
        if not all(_finite(value) for value in values):
            raise ValueError(
                f"activations.json: image record {position} is damaged (NaN or infinite activation)"
            )


def _quality_check(quality) -> dict:
    """`quality` when it is a quality report as the writer writes it; else ValueError saying
    what it lacks or holds that it should not."""
    if not isinstance(quality, dict):
        raise ValueError("quality.json: not a quality report (no JSON object)")
    missing = sorted({name.name for name in fields(QualityReport)} - quality.keys())
    if missing:
        raise ValueError(f"quality.json: not a whole quality report (no {', '.join(missing)})")
    damaged = sorted(name for name, value in quality.items() if not _finite(value))
    if damaged:
        raise ValueError(f"quality.json: damaged ({', '.join(damaged)} not a finite number)")
    return quality


def _finite(value) -> bool:
    """Whether a value read from JSON is a finite number, or no number at all."""
    return not isinstance(value, float) or math.isfinite(value)


def unit_problem(
    root: Path, unit: int, settings: dict, rules: SettingsRules | None = None
) -> str | None:
    """What keeps a finished unit's folder from counting as a unit made with `settings`, or
    None: a file missing or not the JSON it should be, the images of another unit (a folder
    copied under the wrong name), or other settings (one copied in from another run).

    Reads the JSON files, and the last bytes of each picture: a file cut short (a copy that
    stopped half way) lacks the end every PNG or JPEG file has. Decodes no picture.
    """
    try:
        stored = unit_read(root, unit)
    except ValueError as error:
        return str(error)
    for name, kind in (("panel.png", "PNG"), ("panel_web.jpg", "JPEG")):
        if problem := _file_end_problem(os.path.join(stored["folder"], name), kind):
            return f"{name}: {problem}"
    expected = stored["settings"].get("images_per_unit")
    if len(stored["images"]) != expected:
        return f"activations.json: {len(stored['images'])} image records, not {expected}"
    if problem := _pictures_problem(stored["folder"] / "images", expected):
        return problem
    if stored["recorded_unit"] != unit:
        return f"activations.json holds the images of unit {stored['recorded_unit']}"
    differing = (rules or SettingsRules()).differences(settings, stored["settings"])
    if differing:
        return f"made with other settings (differing: {', '.join(differing)})"
    return None


def _pictures_problem(images: Path, count: int) -> str | None:
    """The first of a unit's `count` pictures in `images` that is missing, empty or cut short,
    and what is wrong with it; None when nothing is seen wrong."""
    try:  # one listing, not a look-up per picture: resuming reads thousands of units
        present = set(os.listdir(images))
    except OSError:
        return "images/: missing"
    names = [f"{index:03d}.png" for index in range(count)]
    missing = [name for name in names if name not in present]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"images/{missing[0]}: missing{more}"
    folder = str(images)  # (string paths: a Path per picture took as long as reading it)
    for name in names:
        if problem := _file_end_problem(os.path.join(folder, name), "PNG"):
            return f"images/{name}: {problem}"
    return None


def _file_end_problem(path: str, kind: str) -> str | None:
    """What is wrong with a `kind` ("PNG", "JPEG") file that does not end as such files end:
    missing, empty or cut short; None when nothing is seen wrong."""
    end = FILE_ENDS[kind]
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    try:
        size = os.fstat(descriptor).st_size
        if size == 0:
            return "empty"
        if os.pread(descriptor, len(end), max(size - len(end), 0)) != end:
            return f"cut short or damaged (it does not end as a {kind} file does)"
    except OSError as error:  # a folder by that name, an I/O error
        return f"cannot be read ({error.strerror})"
    finally:
        os.close(descriptor)
    return None


def done_units_check(
    root: Path, units: list[int], settings: dict, rules: SettingsRules | None = None
) -> None:
    """OutputMismatchError naming every finished unit of `units` in root that is damaged or was
    made otherwise than `settings` (see unit_problem): a run would skip it as done; and the
    folders in root named like units otherwise than the writer names them (misnamed_refuse)."""
    misnamed_refuse(root)
    done = done_units(root, units)
    found = _CHECKERS.map(lambda unit: unit_problem(root, unit, settings, rules), done)
    problems = [
        f"{unit_dirname(unit)}: {problem}"
        for unit, problem in zip(done, found, strict=True)
        if problem
    ]
    if problems:
        raise OutputMismatchError(
            f"{len(problems)} unit folder(s) in {root} are damaged or were not made by this "
            "run's settings, so they cannot count as done:\n"
            + listed(problems)
            + f"\nMove them out of {root} (or copy them again from where they were made), "
            "then run again: the units moved out are made again."
        )


def listed(problems: list[str], shown: int = 20) -> str:
    """One problem a line, the first `shown` of them, and how many more there are."""
    more = len(problems) - shown
    return "\n".join(problems[:shown]) + (f"\n... and {more} more" if more > 0 else "")


def _json_read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path.name}: {error}") from None


@dataclass(frozen=True)
class QualityReport:
    """How strongly a unit's AM images drive it, against natural images (and class hits)."""

    unit: int
    mean_activation: float
    max_activation: float
    mean_start_activation: float
    reference_max: float | None  # highest activation any natural reference image reaches
    share_above_reference: float | None  # share of AM images above reference_max
    class_hit_rate: float | None  # output layers: share of AM images classified as the unit

    def as_dict(self) -> dict:
        return asdict(self)


def quality_report(result: UnitResult, *, reference_max: float | None, output_layer: bool):
    """The unit's quality report; class_hit_rate only where the layer is the output layer."""
    activations = np.asarray(result.activations, dtype=np.float64)
    share = None
    if reference_max is not None:
        share = float(np.mean(activations > reference_max))
    hit_rate = None
    if output_layer and result.predicted_classes is not None:
        hit_rate = float(np.mean(np.asarray(result.predicted_classes) == result.unit))
    return QualityReport(
        unit=result.unit,
        mean_activation=float(activations.mean()),
        max_activation=float(activations.max()),
        mean_start_activation=float(np.mean(result.start_activations)),
        reference_max=None if reference_max is None else float(reference_max),
        share_above_reference=share,
        class_hit_rate=hit_rate,
    )


def quality_summary(reports: list[dict]) -> str:
    """A few lines summing up the quality reports of many units, for the end of a run."""
    if not reports:
        return "No units in this run."
    lines = [f"Quality over {len(reports)} units:"]
    means = np.array([report["mean_activation"] for report in reports])
    starts = np.array([report["mean_start_activation"] for report in reports])
    lines.append(f"  mean final activation {means.mean():.3f} (from {starts.mean():.3f} at start)")
    with_reference = [r for r in reports if r.get("reference_max") is not None]
    if with_reference:
        beat = sum(r["max_activation"] > r["reference_max"] for r in with_reference)
        share = np.mean([r["share_above_reference"] for r in with_reference])
        lines.append(
            f"  {beat}/{len(with_reference)} units: best AM image above the natural-image maximum;"
            f" {share:.1%} of AM images above it"
        )
    with_class = [r["class_hit_rate"] for r in reports if r.get("class_hit_rate") is not None]
    if with_class:
        lines.append(f"  {np.mean(with_class):.1%} of AM images classified as the target class")
    return "\n".join(lines)
