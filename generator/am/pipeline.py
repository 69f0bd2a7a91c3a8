"""Panels for many units: batched chains across units, per-unit outputs, quality reports.

Django-free, so the same run works from `manage.py generate_panels`, from a bench script and on a
GPU machine without a database. Chains of several units share one batch (units x images are
laid out flat, `batch_size` at a time); a unit is written as soon as all its images are done.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from generator.am import outputs
from generator.am.chains import chain_seed
from generator.am.config import AMConfig
from generator.am.deepsim import available_generators, get_generator, load_generator
from generator.am.networks import NetworkSpec, TargetNetwork, get_network, load_network
from generator.am.pixel import PixelSampler
from generator.am.ppgn import PPGNSampler
from generator.am.reference import reference_maxima

# Settings that change how fast a run goes, not what it makes: a run may resume with others.
EXECUTION_FIELDS = ("batch_size", "device", "compile", "channels_last", "cpu_threads")
# Raised whenever the same settings and weights make other pictures or files than before, so
# a folder is never finished with pictures unlike its first ones. 2: pictures are the network's
# crop, in ppgn's colours; thresholds and resets as ppgn's; the pixel method's fine jitter 4.
GENERATOR_VERSION = 2
# Threads writing finished units while the sampler goes on: encoding a unit's PNG files takes
# about a second of CPU, as long as sampling it on an H100, and Pillow encodes without the GIL.
WRITERS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class PanelRun:
    """One generate_panels run: which units, with which settings, into which folder."""

    config: AMConfig
    units: list[int]
    out: Path
    rows: int = 10
    cols: int = 10
    reference: Path | None = None  # folder of natural images; the demo uses its digits

    def __post_init__(self):
        if self.rows * self.cols != self.config.images_per_unit:
            raise ValueError(
                f"{self.config.images_per_unit} images per unit do not fill a "
                f"{self.rows}x{self.cols} grid ({self.rows * self.cols} images)"
            )

    def settings(self) -> dict:
        """What determines the panels: stored beside them, and compared on resume."""
        return {
            **made_by(self.config),
            "grid": f"{self.rows}x{self.cols}",
            "version": GENERATOR_VERSION,
            "weights_sha256": weights_digests(self.config),
        }


def made_by(config: AMConfig) -> dict:
    """The settings of `config` that determine what is made (not how fast)."""
    return {k: v for k, v in asdict(config).items() if k not in EXECUTION_FIELDS}


# What a recording made before a setting existed is taken to have used: that setting's default
# (and the first version, whose recordings had no version nor weights digests).
SETTINGS_DEFAULTS = {**made_by(AMConfig()), "version": 1, "weights_sha256": None}
# Where the weights files lay is recorded but not compared: their digests say whether they are
# the same files, and on another machine the same files lie elsewhere. (Version 1 recordings
# had no digests; they differ in version anyway.)
WEIGHTS_PATHS = ("weights", "generator_weights", "encoder_weights")


def weights_files(config: AMConfig) -> dict[str, Path]:
    """The weights file of each network a run loads: "target", and for PPGN "generator" and,
    when it is a network of its own, "encoder"."""
    files = {"target": _network_weights(config.network, config.weights)}
    if config.method == "ppgn":
        spec = get_generator(config.generator)
        files["generator"] = (
            Path(config.generator_weights) if config.generator_weights else spec.default_weights()
        )
        if separate_encoder(config):
            files["encoder"] = _network_weights(encoder_of(config), config.encoder_weights)
    return files


def _network_weights(name: str, weights: str | None) -> Path:
    return Path(weights) if weights else get_network(name).weights_path()


def weights_digests(config: AMConfig) -> dict[str, str | None]:
    """SHA-256 of each of ``weights_files`` (None for a missing file: loading it then fails,
    saying how to obtain it). Paths alone do not tell retrained or replaced weights apart."""
    return {
        role: file_sha256(path) if path.is_file() else None
        for role, path in weights_files(config).items()
    }


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_generator(network: str) -> str:
    """The generator trained on this network's own code, else ppgn's DeePSiM fc6."""
    for name in available_generators():
        if network in get_generator(name).encoder_networks:
            return name
    return "deepsim-fc6"


def encoder_of(config: AMConfig) -> str:
    """The prior's encoder E: ``config.encoder``, else the target when the generator takes its
    code, else the generator's first encoder network. ValueError for an E whose code the
    generator was not trained to invert (another network's fc6 may have the right size, but
    its features mean something else)."""
    generator = get_generator(config.generator)
    encoders = generator.encoder_networks
    name = config.encoder or (config.network if config.network in encoders else encoders[0])
    get_network(name)  # an unknown name: the registry's message lists the known ones
    if name not in encoders:
        raise ValueError(
            f"Encoder {name!r} cannot serve generator {generator.name!r}: it inverts the "
            f"{generator.encoder_layer} code of {' or '.join(encoders)}; pick one of those "
            "(with --encoder-weights for other weights of it)"
        )
    return name


def separate_encoder(config: AMConfig) -> bool:
    """Whether the prior's encoder is a network of its own rather than the target itself."""
    return encoder_of(config) != config.network or config.encoder_weights not in (
        None,
        config.weights,
    )


def output_layer(spec: NetworkSpec) -> str | None:
    """Alias of the network's classifier output layer, where one is registered."""
    for layer in spec.layers.values():
        if layer.kind == "fc" and layer.units == spec.num_classes and not layer.rectified_after:
            return layer.alias
    return None


def sampler_build(config: AMConfig) -> PPGNSampler | PixelSampler:
    """Load the target network (and for PPGN the generator and its encoder); a sampler.

    The encoder E is ``config.encoder``, else the target when G takes its code, else G's first
    encoder network. When E is the target network with the target's weights, one forward pass
    serves both; otherwise E loads from ``encoder_weights`` or its standard file.
    """
    files = weights_files(config)
    target = load_network(config.network, weights=files["target"], device=config.device)
    if config.method == "pixel":
        return PixelSampler(target=target, config=config)
    generator_spec = get_generator(config.generator)
    generator = load_generator(config.generator, weights=files["generator"], device=config.device)
    encoder_name = encoder_of(config)
    encoder = target
    if "encoder" in files:
        encoder = load_network(encoder_name, weights=files["encoder"], device=config.device)
    return PPGNSampler(
        target=target,
        generator=generator,
        encoder=encoder,
        encoder_layer=generator_spec.encoder_layer,
        config=config,
    )


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


def execution_record(config: AMConfig, batch_size: int) -> dict:
    """How a unit was run, beside what made it: needed to repeat its images bit for bit.

    `batch_size` is the size every batch of the run was padded to; `encoder` the prior's
    encoder network that the settings' `encoder` (None: the default) stood for.
    """
    with config.threads():
        threads = torch.get_num_threads()
    record = {
        **{name: getattr(config, name) for name in EXECUTION_FIELDS},
        "batch_size": batch_size,
        "encoder": encoder_of(config) if config.method == "ppgn" else None,
        "torch_threads": threads,
        "torch": torch.__version__,
    }
    if torch.device(config.device).type == "cuda":
        record.update(
            gpu=torch.cuda.get_device_name(torch.device(config.device)),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_benchmark=config.cudnn_benchmark,
            tf32=torch.backends.cudnn.allow_tf32,
        )
    return record


def image_regenerate(
    root: Path, unit: int, index: int, *, device: str | None = None
) -> tuple[Tensor, float]:
    """Picture `index` of a finished unit in `root` made again: (3,P,P) RGB in [0,1] as stored,
    and its activation. ValueError when this version of the generator or these weights files
    would make other pictures than the unit's.

    The chain runs alone, padded to the batch size it ran in, with the speed options it ran
    with and on its kind of device (or `device`), so on the same CPU and software it repeats the
    stored image bit for bit. On other hardware or software it matches up to rounding, which
    AM steps can amplify. On CUDA, cuDNN may pick other kernels in another process, some of
    them not deterministic: expect close, not always identical, images there.
    """
    stored = outputs.unit_read(root, unit)
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
    ran = {k: v for k, v in stored["execution"].items() if k in EXECUTION_FIELDS}
    if ran["device"].startswith("cuda"):
        ran["device"] = "cuda"  # a torchrun rank's GPU number says nothing about the result
    config = AMConfig(**{**made, **ran, **({"device": device} if device else {})})
    digests = weights_digests(config)
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
            images=torch.stack(parts.images),
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
    removed first. Finished units are written by `WRITERS` threads while sampling goes on.
    `on_unit(unit, quality)` follows each written unit (in unit order, on this thread),
    `on_images(count)` each batch of finished chains.
    """
    settings = run.settings()
    outputs.settings_claim(run.out, settings, SETTINGS_DEFAULTS, WEIGHTS_PATHS)
    outputs.clean_partials(run.out, run.units)
    pending = outputs.pending_units(run.out, run.units)
    if not pending:
        return []
    sampler = sampler or sampler_build(run.config)
    target, is_output = sampler.target, output_layer(sampler.target.spec) == run.config.layer
    maxima = reference_maxima(target, run.config, reference=run.reference)  # (units,) or None
    collector, reports = UnitCollector(run.config.images_per_unit, is_output), []
    size = min(run.config.batch_size, len(pending) * run.config.images_per_unit)
    execution = execution_record(run.config, batch_size=size)
    writing: deque[Future] = deque()
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="unit-writer") as writers:
        for units, seeds in chain_plan(run.config, pending):
            result = sampler.run(*batch_padded(units, seeds, size))
            pictures = result.pictures.cpu()
            classes = predicted_classes(target, result.images) if is_output else [None] * len(units)
            for b, unit in enumerate(units):
                done = collector.add(
                    unit,
                    images=pictures[b],
                    seeds=seeds[b],
                    start_activations=result.start_activations[b].item(),
                    activations=result.activations[b].item(),
                    predicted_classes=classes[b],
                )
                if done is not None:
                    args = (run, done, settings, execution, maxima, is_output)
                    writing.append(writers.submit(_unit_finish, *args))
            reports += _written(writing, on_unit, pending_max=2 * WRITERS)
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
