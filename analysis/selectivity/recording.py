"""Record a registered network's activations over an image set, keeping correct images only.

Image sources are a list of (image id, class index) plus a loader, so an ImageNet-layout folder
and the demo network's digits go through the same loop. Conv layers are reduced to one value
per channel by the spatial max (as the paper's authors did) or mean.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from analysis.selectivity.activation_writer import ActivationWriter
from analysis.selectivity.activations import REDUCTIONS, ActivationFileError, RecordingHeader
from generator.am.networks import layers_hooked, rectified
from generator.am.reference import image_files, image_load


@dataclass(frozen=True)
class ImageSource:
    """A fixed, ordered list of images with their classes, and how to load a batch of them."""

    name: str  # recorded in the file; a resumed recording must have the same
    image_ids: list[str]
    labels: np.ndarray  # (N,) int64
    load: Callable[[Sequence[int]], Tensor]  # indices -> (B,3,S,S) RGB in [0,1]


def folder_source(root: Path, class_ids: Sequence[str], size: int) -> ImageSource:
    """Images of an ImageNet-layout folder (one subfolder per WordNet id), class order from
    `class_ids`; each image resized (shorter side size*256/224) and centre-cropped to size."""
    root = Path(root)
    if not root.is_dir():
        raise ActivationFileError(f"Image folder {root} does not exist.")
    index = {wnid: i for i, wnid in enumerate(class_ids)}
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in folders if p.name not in index]
    if unknown or not folders:
        raise ActivationFileError(
            f"{root} must hold one folder per class named by WordNet id (e.g. n01440764); "
            f"unknown folder names: {', '.join(unknown[:5]) or 'no class folders found'}."
        )
    files = [
        (f, index[folder.name])
        for folder in sorted(folders, key=lambda p: index[p.name])
        for f in image_files(folder)  # the generator's rule: ._name.jpg is no image
    ]
    ids = [str(f.relative_to(root)) for f, _ in files]

    def load(indices: Sequence[int]) -> Tensor:
        return torch.stack([load_image(files[i][0], size) for i in indices])

    name = f"{root.resolve()} ({len(files)} images)"
    return ImageSource(name, ids, np.array([c for _, c in files], dtype=np.int64), load)


def load_image(path: Path, size: int) -> Tensor:
    """(3,size,size) RGB in [0,1], as the generator's reference images (`image_load`)."""
    try:
        return image_load(path, size)
    except ValueError as error:
        raise ActivationFileError(str(error)) from None


def tensor_source(name: str, images: Tensor, labels: Tensor) -> ImageSource:
    """An in-memory image set, e.g. the demo network's digits: images (N,3,S,S), labels (N,)."""
    ids = [f"{name}:{i}" for i in range(len(labels))]
    return ImageSource(name, ids, labels.numpy().astype(np.int64), lambda idx: images[list(idx)])


class LayerRecorder:
    """Captures the outputs of named layers and the network's logits in one forward pass."""

    def __init__(self, network, layers: Sequence[str], *, reduction: str, pre_relu: bool):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Unknown reduction {reduction!r}; use one of {REDUCTIONS}.")
        self.network, self.reduction, self.pre_relu = network, reduction, pre_relu
        self.specs = [network.spec.layer(alias) for alias in layers]

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[Tensor, dict[str, np.ndarray]]:
        """Images (B,3,S,S) in [0,1] -> (predicted classes (B,), alias -> (B, units) float32)."""
        captured: dict[str, Tensor] = {}
        with layers_hooked(self.network.model, self.specs, self._taker(captured)):
            images = images.to(self.network.device)
            logits = self.network.model(self.network.preprocess(images))
        values = {alias: v.float().cpu().numpy() for alias, v in captured.items()}
        return logits.argmax(dim=1).cpu(), values

    def _taker(self, captured: dict[str, Tensor]):
        def take(spec, output):
            value = output if self.pre_relu else rectified(output, spec)
            if spec.kind == "conv":
                value = value.amax(dim=(2, 3)) if self.reduction == "max" else value.mean((2, 3))
            captured[spec.alias] = value.flatten(1)  # (B, units)

        return take


def record(
    recorder: LayerRecorder,
    source: ImageSource,
    out: Path,
    *,
    batch_size: int = 64,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
    weights_sha256: str = "",
) -> tuple[int, int]:
    """Run the network over `source`, appending correctly classified images to `out`.

    Resumes after the images a previous run already processed, with the same weights (their
    `weights_sha256` is recorded). Returns (images seen, kept). A recording that keeps no image
    (wrong weights, or class folders the network reads as other classes) is removed, with an
    ActivationFileError saying so: every measure would fail on it later, far from the cause.
    """
    spec = recorder.network.spec
    header = RecordingHeader(
        network=spec.name,
        layers={s.alias: (s.kind, s.units) for s in recorder.specs},
        reduction=recorder.reduction,
        num_classes=spec.num_classes,
        class_names=tuple(spec.class_names),
        source=source.name,
        pre_relu=recorder.pre_relu,
        weights_sha256=weights_sha256,
    )
    total = len(source.image_ids)
    writer = ActivationWriter(out, header, images=total)  # refused where its disk is too small
    start = writer.images_seen
    advance = progress(total, start) if progress else None
    try:
        for first in range(start, total, batch_size):
            _record_batch(recorder, source, writer, range(first, min(first + batch_size, total)))
            if advance:
                advance(min(batch_size, total - first))
    finally:
        seen, kept = writer.close(total=total)  # whole batches only: a failed one is not kept
    if not kept:
        Path(out).unlink(missing_ok=True)  # holds no row: nothing of it is worth keeping
        raise ActivationFileError(_none_kept_message(spec.name, source, seen, out))
    return seen, kept


def _none_kept_message(network: str, source: ImageSource, seen: int, out: Path) -> str:
    """What a recording that kept no image means, and what to check."""
    images = f"{seen} image{'' if seen == 1 else 's'}"
    return (
        f"No image was classified correctly by {network}: {images} of {source.name} seen, none "
        f"kept, so no activation file is left at {out}. Check the weights (the "
        f"trained {network} file: another network's or untrained weights classify no image "
        "correctly) and, for an image folder, that each class folder is named by the WordNet "
        "id of its images' class."
    )


def _record_batch(recorder, source: ImageSource, writer: ActivationWriter, indices: range):
    predictions, values = recorder(source.load(indices))
    labels = source.labels[indices.start : indices.stop]
    correct = predictions.numpy() == labels  # (B,) keep top-1 correct images only
    writer.append(
        labels[correct],
        predictions.numpy()[correct],
        [source.image_ids[i] for i, keep in zip(indices, correct, strict=True) if keep],
        {alias: v[correct] for alias, v in values.items()},
        images_seen=indices.stop,
    )
