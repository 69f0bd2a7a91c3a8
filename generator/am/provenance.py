"""What made a unit's pictures, recorded beside them: the settings compared when a run resumes or
registers, the weights files' digests, the generator's version, and how the run went.

Django-free, as the rest of `generator/am/`.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict, replace
from pathlib import Path

import torch

from generator.am.config import AMConfig
from generator.am.layer_folder import SettingsRules
from generator.am.loading import encoder_of, weights_files_present
from generator.am.networks import get_network
from generator.am.reference import reference_files

# Settings that change how fast a run goes, not what it makes: a run may resume with others.
EXECUTION_FIELDS = ("batch_size", "device", "compile", "channels_last", "cpu_threads")
# Raised whenever the same settings and weights make other pictures or files than before, so
# a folder is never finished with pictures unlike its first ones. 2: pictures are the network's
# crop, in ppgn's colours; the threshold considers the final code; resets after ppgn's steps;
# the pixel method's fine jitter 4. 3: DeePSiM pictures stretched from their darkest to their
# brightest value, as ppgn's saved files are; the pixel method's shift +-5 (Lucent's spread).
GENERATOR_VERSION = 3


def made_by(config: AMConfig) -> dict:
    """The settings of `config` that determine what is made (not how fast).

    An `encoder` named although it is the one that None stands for is recorded as None, so
    naming the default encoder or leaving it out are the same settings; the pixel method
    records the prior's settings as their defaults.
    """
    made = {k: v for k, v in asdict(config).items() if k not in EXECUTION_FIELDS}
    if config.method != "ppgn":  # no generator nor encoder: whatever was named made nothing
        return made | {name: getattr(AMConfig(), name) for name in PRIOR_FIELDS}
    if config.encoder is not None and config.encoder == encoder_of(replace(config, encoder=None)):
        made["encoder"] = None
    return made


# The settings of the PPGN prior, which the pixel method has not.
PRIOR_FIELDS = ("generator", "generator_weights", "encoder", "encoder_weights")


def settings_normalised(settings: dict) -> dict:
    """Recorded settings (defaults filled in) as `made_by` and the weights digests record them
    now, so folders recorded before stay comparable: a named default encoder as None, a pixel
    run's prior as its defaults, and no encoder digest where the encoder was the target's own
    file (the same digest)."""
    settings = dict(settings)
    fields_now = made_by(AMConfig())
    try:
        config = AMConfig(**{k: v for k, v in settings.items() if k in fields_now})
        settings.update(made_by(config))
    except (TypeError, ValueError):  # a recording this version cannot read: compared as it is
        pass
    digests = settings.get("weights_sha256")
    if isinstance(digests, dict) and digests.get("encoder") == digests.get("target"):
        settings["weights_sha256"] = {k: v for k, v in digests.items() if k != "encoder"}
    return settings


# What a recording made before a setting existed is taken to have used: that setting's default
# (and the first version, whose recordings had no version nor weights digests).
# (No default for `reference_sha256`: what an older recording measured against is not known, so
# it is not compared.)
SETTINGS_DEFAULTS = {
    **made_by(AMConfig()),
    "version": 1,
    "weights_sha256": None,
    "reference": None,
    "target_parts": [],  # GoogLeNet's inception4e was taken after its ReLUs before it had parts
}
# (No default for `target_registration` either: a recording made before it is not compared.)
# The setting that names each role's weights file.
WEIGHTS_FIELDS = {
    "target": "weights",
    "generator": "generator_weights",
    "encoder": "encoder_weights",
}
# Where the files lay (the weights, the reference set) is recorded but not compared: their
# digests say whether they are the same files, and on another machine the same files lie
# elsewhere. (Version 1 recordings had no digests; they differ in version anyway.)
PATHS = (*WEIGHTS_FIELDS.values(), "reference")
# What the quality reports were measured against: the same in a folder, though the pictures do
# not depend on it (so an experiment's panels may differ in it).
QUALITY_FIELDS = ("reference_sha256",)
# How a unit folder's settings compare with a run's (or with another unit folder's).
SETTINGS_RULES = SettingsRules(SETTINGS_DEFAULTS, PATHS, settings_normalised)


def target_parts(config: AMConfig) -> list[str]:
    """The modules whose outputs make the target layer's value, where its own output is taken
    after ReLUs (networks.LayerSpec.parts): recorded, so panels made before a layer had parts
    are told apart."""
    return list(get_network(config.network).layer(config.layer).parts)


def target_registration(config: AMConfig) -> dict:
    """How the registry reads the target network now: its input convention and the target
    layer's entry (the module its values come from, their kind and count, whether a ReLU
    follows). Recorded, so a folder is neither resumed nor an image regenerated once the
    registration changed (a layer moved to another module, another mean), which the layer's
    name alone does not tell. (Its parts are `target_parts`, recorded since before this.)"""
    spec = get_network(config.network)
    layer = spec.layer(config.layer)
    return {
        "module": layer.module,
        "kind": layer.kind,
        "units": layer.units,
        "rectified_after": layer.rectified_after,
        "input_size": spec.input_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "bgr": spec.bgr,
    }


def weights_digests(config: AMConfig) -> dict[str, str]:
    """SHA-256 of each of ``weights_files``; FileNotFoundError for a missing one, saying how to
    obtain it. Paths alone do not tell retrained or replaced weights apart."""
    return {role: file_sha256(path) for role, path in weights_files_present(config).items()}


def reference_digest(folder: Path | None) -> str | None:
    """SHA-256 over the reference set's images, each one's path below `folder` and its bytes:
    whether two runs measured their quality reports against the same natural images. None
    without a folder (the network's own set, if it has one: the demo's digits)."""
    if folder is None:
        return None
    digest = hashlib.sha256()
    for path in reference_files(folder):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks once while it stays unchanged (its size,
    time and inode): a run checks its settings more than once, and weights run to gigabytes."""
    status = os.stat(path)
    return _file_sha256(os.path.realpath(path), status.st_size, status.st_mtime_ns, status.st_ino)


@functools.lru_cache(maxsize=1 << 16)
def _file_sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
