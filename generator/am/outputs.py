"""A unit's output folder: writing it atomically, reading it back, its quality report.

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
run leaves a partial folder that the next run alone in the folder removes. The folder as a whole
(its settings, its planned units, the runs writing into it) is generator/am/layer_folder.py's;
whether a finished unit counts as done is generator/am/unit_check.py's.
"""

import errno
import json
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from experiment.files import replaced_whole
from generator.am import grid
from generator.am.chains import chain_seed

SETTINGS_FILE = "settings.json"
UNIT_PREFIX = "unit_"
PARTIAL_PREFIX = ".partial-"

# Threads flushing a finished unit's files to disk all at once rather than one after another:
# a flush mostly waits for the disk, and the file system commits many in one go. 2-3.5x faster
# for a unit's 107 files and folders on the sandbox's disk (docs/benchmarks.md); more where
# each flush waits on a network disk. Shared by the writer threads of a run.
_FLUSHERS = ThreadPoolExecutor(32, thread_name_prefix="unit-flush")


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


def json_write_atomic(path: Path, payload: dict) -> None:
    """Write JSON through a temporary file and a rename (files.replaced_whole), so readers never
    see half a file and a failed write (a full disk) leaves no temporary file behind.

    The temporary file has a unique name: ranks on several machines sharing a folder may have
    the same process id.
    """
    text = _json_text(payload)  # (before the file: a value JSON cannot hold leaves none)
    with replaced_whole(Path(path)) as stream:
        stream.write(text)


def _json_text(payload: dict) -> str:
    """JSON text of `payload`; ValueError for NaN or inf, which JSON cannot hold (Python would
    write them as NaN and Infinity, which other readers and the database refuse)."""
    return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"


def settings_read(path: Path) -> dict:
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
    try:
        _unit_files_write(partial, result, texts, rows, cols)
        # A rename can reach the disk before the data it names: flush the unit first (every
        # file and folder in it), so a unit folder that exists after a power cut is whole.
        list(_FLUSHERS.map(_fsync, [*partial.rglob("*"), partial]))
        os.rename(partial, final)
    except OSError as error:
        # This writer's own half unit, never a finished one: on a full disk it would hold the
        # space the rerun needs.
        shutil.rmtree(partial, ignore_errors=True)
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not final.is_dir():
            raise
        return final  # another run wrote the unit first, with the same settings
    _fsync(Path(root))  # the rename itself (other units may be being written in there)
    return final


def _unit_files_write(folder: Path, result: UnitResult, texts: dict, rows: int, cols: int):
    """A unit's images, panels and JSON files (`texts`, name -> text) in `folder`."""
    os.chmod(folder, 0o755)  # mkdtemp makes it private; unit folders are read by the server
    (folder / "images").mkdir()
    pixels = grid.to_uint8(result.images)  # (N, H, W, 3)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(
            folder / "images" / f"{index:03d}.png", compress_level=grid.PNG_COMPRESS_LEVEL
        )
    panel = grid.tile(pixels, rows, cols)
    panel.save(folder / "panel.png", compress_level=grid.PNG_COMPRESS_LEVEL)
    grid.web_size(panel).save(folder / "panel_web.jpg", quality=grid.WEB_JPEG_QUALITY)
    for name, text in texts.items():
        (folder / name).write_text(text)


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
    activations = json_read(folder / "activations.json")
    if not isinstance(activations, dict) or "images" not in activations:
        raise ValueError("activations.json: no image records")
    _records_check(activations["images"])
    settings = settings_read(folder / SETTINGS_FILE)
    recorded_unit = activations.get("unit", unit)
    _seeds_check(activations["images"], settings.get("base_seed", 0), recorded_unit)
    return {
        "unit": unit,
        "recorded_unit": recorded_unit,  # the unit its images were made for
        "folder": folder,
        "panel": folder / "panel.png",
        "settings": settings,
        "execution": activations.get("execution"),  # None: written before it was recorded
        "images": activations["images"],
        "quality": _quality_check(json_read(folder / "quality.json")),
    }


def _seeds_check(records: list[dict], base_seed, unit) -> None:
    """ValueError unless record k is image k of `unit` with its seed from `base_seed` (an edited
    seed would make regeneration repeat another picture than the stored one)."""
    if type(base_seed) is not int or type(unit) is not int:
        raise ValueError(
            f"the unit ({unit!r}, activations.json) and the base seed ({base_seed!r}, "
            "settings.json) must be whole numbers"
        )
    for position, record in enumerate(records):
        if record["index"] != position or record["seed"] != chain_seed(base_seed, unit, position):
            raise ValueError(
                f"activations.json: image record {position} (index {record['index']}, seed "
                f"{record['seed']}) is not image {position} of unit {unit} from base seed "
                f"{base_seed} (seed {chain_seed(base_seed, unit, position)}): edited, or "
                "not written by generate_panels"
            )


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
    required = {field.name for field in fields(QualityReport) if field.default is MISSING}
    missing = sorted(required - quality.keys())
    if missing:
        raise ValueError(f"quality.json: not a whole quality report (no {', '.join(missing)})")
    damaged = sorted(name for name, value in quality.items() if not _finite(value))
    if damaged:
        raise ValueError(f"quality.json: damaged ({', '.join(damaged)} not a finite number)")
    return quality


def _finite(value) -> bool:
    """Whether a value read from JSON is a finite number, or no number at all."""
    return not isinstance(value, float) or math.isfinite(value)


def json_read(path: Path):
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
    # Share of AM images whose final activation is exactly their start's: 1 where no gradient
    # moved any chain. (None in reports written before it was recorded.)
    share_unmoved: float | None = None

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
        share_unmoved=float(np.mean(activations == np.asarray(result.start_activations))),
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
    unmoved = [report["unit"] for report in reports if report.get("share_unmoved") == 1.0]
    if unmoved:
        lines.append(_unmoved_warning(unmoved))
    return "\n".join(lines)


def _unmoved_warning(units: list[int]) -> str:
    """Units no chain moved: a mean over the run would hide them among units that rose."""
    named = ", ".join(map(str, units[:10])) + (f" and {len(units) - 10} more" if units[10:] else "")
    return (
        f"  Warning: no chain moved the target for {len(units)} unit(s) ({named}): every image "
        "ended at exactly its start activation, so no gradient reached them (the pixel "
        "method's panels then show their starting images, PPGN's pictures the prior alone "
        "made). The target is taken after a ReLU where the unit is 0 on every image (a layer "
        "registered at a module whose output a ReLU already rectified, or --post-relu), or "
        "the unit is dead. Check the layer's registration (docs/generator.md, 'Networks and "
        "weights')."
    )
