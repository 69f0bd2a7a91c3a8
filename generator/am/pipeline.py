"""Panels for many units: batched chains across units, per-unit outputs, quality reports.

Django-free, so the same run works from `manage.py generate_panels`, from a bench script and on a
GPU machine without a database. Chains of several units share one batch (units x images are
laid out flat, `batch_size` at a time); a unit is written as soon as all its images are done.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from generator.am import grid, layer_folder, outputs, unit_check
from generator.am.chains import chain_seed
from generator.am.config import AMConfig, usable_cpus
from generator.am.loading import output_layer, sampler_build, weights_files
from generator.am.networks import TargetNetwork
from generator.am.ppgn import PPGNSampler
from generator.am.provenance import (
    EXECUTION_FIELDS,
    GENERATOR_VERSION,
    SETTINGS_DEFAULTS,
    SETTINGS_RULES,
    WEIGHTS_FIELDS,
    execution_record,
    made_by,
    reference_digest,
    target_parts,
    target_registration,
    weights_digests,
)
from generator.am.reference import reference_maxima

# Threads writing finished units while the sampler goes on: encoding a unit's PNG files takes
# about a second of CPU, as long as sampling it on an H100, and Pillow encodes without the GIL.
WRITERS = min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class PanelRun:
    """One generate_panels run: which units, with which settings, into which folder."""

    config: AMConfig
    units: list[int]
    out: Path
    rows: int = 10
    cols: int = 10
    reference: Path | None = None  # folder of natural images; the demo uses its digits
    # Every unit the run was asked for, when `units` is one torchrun rank's share of them.
    planned: list[int] | None = None

    def __post_init__(self):
        if self.rows * self.cols != self.config.images_per_unit:
            raise ValueError(
                f"{self.config.images_per_unit} images per unit do not fill a "
                f"{self.rows}x{self.cols} grid ({self.rows * self.cols} images)"
            )

    def settings(self) -> dict:
        """What determines the panels and their quality reports: stored beside them, and
        compared on resume."""
        return {
            **made_by(self.config),
            "grid": f"{self.rows}x{self.cols}",
            "version": GENERATOR_VERSION,
            "target_parts": target_parts(self.config),
            "target_registration": target_registration(self.config),
            "weights_sha256": weights_digests(self.config),
            "reference": None if self.reference is None else str(self.reference),
            "reference_sha256": reference_digest(self.reference),
        }


def chain_plan(config: AMConfig, units: list[int]) -> Iterator[tuple[list[int], list[int]]]:
    """Batches of (units, seeds): every image of every unit once, `batch_size` chains a batch.

    The last batch is short; `batch_padded` fills it up before it runs.
    """
    chains = [
        (unit, chain_seed(config.base_seed, unit, index))
        for unit in units
        for index in range(config.images_per_unit)
    ]
    for start in range(0, len(chains), config.batch_size):
        batch = chains[start : start + config.batch_size]
        yield [unit for unit, _ in batch], [seed for _, seed in batch]


def batch_padded(units: list[int], seeds: list[int], size: int) -> tuple[list[int], list[int]]:
    """The chains repeated up to `size` (the last one again): every chain runs in a batch of
    the same shape, so it gets bit-for-bit the result it would get in any other such batch
    (the kernels, and so the rounding, depend on the shape; AM steps amplify rounding).

    A run pads to its batch size, or to its number of chains when it has fewer."""
    missing = size - len(units)
    return units + units[-1:] * missing, seeds + seeds[-1:] * missing


def image_regenerate(
    root: Path,
    unit: int,
    index: int,
    *,
    device: str | None = None,
    precision: str | None = None,
    weights: dict[str, Path] | None = None,
) -> tuple[Tensor, float]:
    """Picture `index` of a finished unit in `root` made again: (3,P,P) RGB in [0,1] as stored,
    and its activation. ValueError when this version of the generator or these weights files
    would make other pictures than the unit's; FileNotFoundError when a weights file is not
    where the unit's settings say. `weights` gives where they lie here instead, by role
    ("target", "generator", "encoder"; on another machine, say): they must be the same files.

    The chain runs alone, padded to the batch size it ran in, with the speed options it ran
    with and on its kind of device (or `device`), on the CPU with the torch threads it had, so
    on the same CPU and software it repeats the stored image bit for bit. On other hardware or
    software it matches up to rounding, which AM steps can amplify. On CUDA, cuDNN may pick
    other kernels in another process, some of them not deterministic: expect close, not always
    identical, images there.

    On another kind of device than the unit's (`device="cpu"` for a unit made on CUDA, say) no
    batch repeats the image bit for bit, so the chain runs alone and uncompiled: close to the
    stored image, in seconds rather than a whole batch's time. `precision` ("fp32", "bf16")
    replaces the unit's, for a CPU without fast bf16 (some 100x slower there); the image is
    then further from the stored one.
    """
    if not outputs.unit_dir(root, unit).is_dir():
        raise ValueError(
            f"unit {unit} is not in {root}: it has no folder {outputs.unit_dirname(unit)} there "
            "(a unit's folder appears once the unit is finished)"
        )
    stored = outputs.unit_read(root, unit)
    if stored["recorded_unit"] != unit:  # a folder copied under another unit's name
        raise ValueError(
            f"{stored['folder']} holds the images of unit {stored['recorded_unit']}, not of "
            f"unit {unit}: it was copied or renamed"
        )
    records = stored["images"]
    if not 0 <= index < len(records):
        raise ValueError(f"unit {unit} has images 0-{len(records) - 1}, not {index}")
    if stored["execution"] is None:
        raise ValueError(
            f"unit {unit} in {root} was made before runs recorded how they ran (batch size, "
            "device), so its images cannot be repeated exactly; generate it again"
        )
    settings = {**SETTINGS_DEFAULTS, **stored["settings"]}
    if settings["version"] != GENERATOR_VERSION:
        raise ValueError(
            f"unit {unit} in {root} was made by version {settings['version']} of the generator; "
            f"this is version {GENERATOR_VERSION}, which makes other pictures from the same "
            "settings (docs/generator.md, 'Versions')"
        )
    made = {k: v for k, v in settings.items() if k in made_by(AMConfig())}
    if settings["target_parts"] != target_parts(AMConfig(**made)):
        raise ValueError(
            f"unit {unit} in {root} was made when {settings['network']} {settings['layer']} was "
            "taken after its ReLUs; this version takes it before them (docs/generator.md, "
            "'Versions'): generate it again"
        )
    registration = target_registration(AMConfig(**made))
    if settings.get("target_registration", registration) != registration:
        changed = sorted(
            key
            for key, value in registration.items()
            if settings["target_registration"].get(key) != value
        )
        raise ValueError(
            f"unit {unit} in {root} was made when network {settings['network']!r} was "
            f"registered otherwise ({', '.join(changed)} of layer {settings['layer']}): its "
            "images cannot be made again under today's registration"
        )
    for role, path in (weights or {}).items():
        if role not in WEIGHTS_FIELDS:
            raise ValueError(f"no weights role {role!r}; the roles are {', '.join(WEIGHTS_FIELDS)}")
        made[WEIGHTS_FIELDS[role]] = str(path)
    ran = {k: v for k, v in stored["execution"].items() if k in EXECUTION_FIELDS}
    if made["method"] == "pixel":  # recorded by earlier runs, never applied: now refused
        ran |= {"channels_last": False, "compile": False}
    if ran["device"].startswith("cuda"):
        ran["device"] = "cuda"  # a torchrun rank's GPU number says nothing about the result
        if device is None and not torch.cuda.is_available():
            raise ValueError(
                f"unit {unit} in {root} was made on CUDA, and this machine has none; pass "
                "device='cpu' to make the image on the CPU (close to the stored one, not "
                "identical)"
            )
    if device is not None and torch.device(device).type != torch.device(ran["device"]).type:
        ran |= {"batch_size": 1, "compile": False}
    elif torch.device(ran["device"]).type == "cpu":
        # torch shares CPU work out by its thread count, and so rounds by it: the run's count
        # (a run given none recorded the shell's), whatever this process has; at most this
        # machine's CPUs (another machine's CPU need not repeat the image bit for bit anyway)
        threads = stored["execution"].get("torch_threads", ran["cpu_threads"])
        ran["cpu_threads"] = min(threads, usable_cpus())
    if precision is not None:
        made["precision"] = precision
    config = AMConfig(**{**made, **ran, **({"device": device} if device else {})})
    try:
        digests = weights_digests(config)
    except FileNotFoundError as error:  # its advice names the command's options
        raise FileNotFoundError(
            f"{error} Here, give where the file lies by its role: "
            'image_regenerate(..., weights={"target": PATH}), or "generator", "encoder".'
        ) from None
    changed = [
        role
        for role, digest in digests.items()
        if digest != (settings["weights_sha256"] or {}).get(role)
    ]
    if changed:
        files = weights_files(config)
        raise ValueError(
            f"unit {unit} in {root} was made with other weights than "
            + ", ".join(f"{files[role]} ({role})" for role in changed)
        )
    units, seeds = batch_padded([unit], [records[index]["seed"]], config.batch_size)
    result = sampler_build(config).run(units, seeds)
    return result.pictures[0].cpu(), result.activations[0].item()


@torch.no_grad()
def predicted_classes(target: TargetNetwork, images: Tensor) -> list[int]:
    """The network's top-1 class of each image (B,3,S,S) in [0, 1]."""
    alias = output_layer(target.spec)
    if alias is None:
        raise ValueError(f"network {target.spec.name!r} has no registered output layer")
    logits = target.activations(target.preprocess(images), [alias])[alias]  # (B, classes)
    return logits.argmax(dim=1).tolist()


@dataclass
class _UnitParts:
    images: list = field(default_factory=list)
    seeds: list = field(default_factory=list)
    start_activations: list = field(default_factory=list)
    activations: list = field(default_factory=list)
    predicted_classes: list = field(default_factory=list)


class UnitCollector:
    """Gathers chain results per unit until a unit has all its images."""

    def __init__(self, images_per_unit: int, with_classes: bool):
        self.images_per_unit, self.with_classes = images_per_unit, with_classes
        self._parts: dict[int, _UnitParts] = {}

    def add(self, unit: int, **chain) -> outputs.UnitResult | None:
        """Add one chain's image, seed, start and final activation and predicted class.

        Returns the unit's UnitResult once it has all its images, else None.
        """
        parts = self._parts.setdefault(unit, _UnitParts())
        for name, value in chain.items():
            getattr(parts, name).append(value)
        if len(parts.images) < self.images_per_unit:
            return None
        del self._parts[unit]
        return outputs.UnitResult(
            unit=unit,
            images=np.stack(parts.images),
            seeds=parts.seeds,
            start_activations=parts.start_activations,
            activations=parts.activations,
            predicted_classes=parts.predicted_classes if self.with_classes else None,
        )


def panels_generate(
    run: PanelRun,
    *,
    sampler: PPGNSampler | None = None,
    on_unit: Callable[[int, dict], None] | None = None,
    on_images: Callable[[int], None] | None = None,
) -> list[dict]:
    """Generate and write every pending unit of `run`; returns their quality reports.

    Units already in `run.out` are skipped; half-written units of an interrupted run are
    removed first. OutputMismatchError, before any work, where finished units there are damaged
    or were made with other settings (unit_check.done_units_check), or where other runs are
    writing there with other settings (layer_folder.folder_claim). Finished units are written by
    `WRITERS` threads while sampling goes on.
    `on_unit(unit, quality)` follows each written unit (in unit order, on this thread),
    `on_images(count)` each batch of finished chains.
    """
    settings = run.settings()
    claim = layer_folder.folder_claim(
        run.out, settings, SETTINGS_RULES, units=run.units, planned=run.planned or run.units
    )
    with claim:
        unit_check.done_units_check(run.out, run.units, settings, SETTINGS_RULES)
        pending = outputs.pending_units(run.out, run.units)
        return _pending_generate(run, pending, settings, sampler, on_unit, on_images)


def _pending_generate(run, pending, settings, sampler, on_unit, on_images) -> list[dict]:
    if not pending:
        return []
    sampler = sampler or sampler_build(run.config)
    target, is_output = sampler.target, output_layer(sampler.target.spec) == run.config.layer
    maxima = reference_maxima(target, run.config, reference=run.reference)  # (units,) or None
    collector, reports = UnitCollector(run.config.images_per_unit, is_output), []
    size = min(run.config.batch_size, len(pending) * run.config.images_per_unit)
    execution = execution_record(run.config, batch_size=size)
    writing: deque[Future] = deque()
    # Units written at once before sampling waits for the writers: those a batch finishes (they
    # come all at once when it ends) beyond twice the writers. Writers that keep up on average
    # never hold the GPU up then, and ones that fall behind do (a unit of 100 pictures of
    # 227x227 holds 15 MB; at batch 1024 and 8 writers up to 38 units, 0.6 GB, are held just
    # after a batch). With only 2 x WRITERS, a batch that finished more units waited.
    pending_max = 2 * WRITERS + -(-size // run.config.images_per_unit)
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="unit-writer") as writers:
        for units, seeds in chain_plan(run.config, pending):
            result = sampler.run(*batch_padded(units, seeds, size))
            pictures = grid.to_uint8(result.pictures)  # on the GPU: 1/4 of the bytes to copy
            starts, finals = result.start_activations.tolist(), result.activations.tolist()
            classes = predicted_classes(target, result.images) if is_output else [None] * len(units)
            for b, unit in enumerate(units):
                done = collector.add(
                    unit,
                    images=pictures[b],
                    seeds=seeds[b],
                    start_activations=starts[b],
                    activations=finals[b],
                    predicted_classes=classes[b],
                )
                if done is not None:
                    args = (run, done, settings, execution, maxima, is_output)
                    writing.append(writers.submit(_unit_finish, *args))
            reports += _written(writing, on_unit, pending_max)
            if on_images is not None:
                on_images(len(units))
        reports += _written(writing, on_unit, pending_max=0)
    return reports


def _written(writing: deque[Future], on_unit, pending_max: int) -> list[dict]:
    """Quality reports of the units written so far, in order; waits while more than
    `pending_max` units are being written (each holds its pictures in memory). A writer's
    error is raised here."""
    reports = []
    while writing and (writing[0].done() or len(writing) > pending_max):
        report = writing.popleft().result()
        if on_unit is not None:
            on_unit(report["unit"], report)
        reports.append(report)
    return reports


def _unit_finish(run, result, settings, execution, maxima, is_output) -> dict:
    reference_max = None if maxima is None else float(maxima[result.unit])
    quality = outputs.quality_report(result, reference_max=reference_max, output_layer=is_output)
    outputs.unit_write(
        run.out,
        result,
        settings=settings,
        execution=execution,
        quality=quality.as_dict(),
        rows=run.rows,
        cols=run.cols,
    )
    return quality.as_dict()
