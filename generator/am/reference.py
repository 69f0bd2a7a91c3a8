"""Natural reference images and the highest activation each unit reaches on them.

The quality report compares a unit's AM images with this maximum: AM should drive a unit above
anything natural. The demo network's reference set is its digits; ImageNet networks take a
folder of images (`--reference DIR`), e.g. a sample of the ImageNet validation set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torchvision.transforms import functional as TF

from experiment.panel_images import image_8bit
from generator.am.config import AMConfig
from generator.am.networks import TargetNetwork, layer_vector, rectified

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
REFERENCE_BATCH = 64


def image_files(folder: Path, *, below: bool = False) -> list[Path]:
    """The image files of `folder` (and of its folders, where `below`), sorted by path.

    Files and folders whose name starts with "." are left out: macOS copies put an AppleDouble
    `._name.jpg` (not an image) beside each image, and hidden folders hold thumbnails and the
    like, never images meant to be read.
    """
    candidates = _files_below(folder) if below else folder.iterdir()
    return sorted(
        path
        for path in candidates
        if path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.is_file()
    )


def _files_below(folder: Path) -> Iterator[Path]:
    """Every file in `folder` and its folders, linked folders included, each real folder read
    once; hidden folders are not entered.

    A reference set is often made of links to ImageNet's class folders, and `Path.rglob` does
    not enter linked folders (Python 3.13's only when asked): most of the set would be left out
    unsaid. Reading each real folder once keeps a link to a folder above it from looping
    forever. A folder inside `folder` itself is read by its own path, not by a link to it, so
    the set's file names, and so its digest, stay those that runs made before links were
    followed. Hidden folders are passed over here, not only by `image_files`' filter, so that
    a visible link to a folder kept in one is not taken for a folder already read.
    """
    inside = {os.path.realpath(top) for top, _, _ in _walk(folder, followlinks=False)}
    seen: set[str] = set()
    for top, folders, files in _walk(folder, followlinks=True):
        real = os.path.realpath(top)
        by_link = real in inside and not _plain_path(top, folder)
        if real in seen or by_link:
            folders.clear()  # a loop, a folder read by another path, or one read by its own
            continue
        seen.add(real)
        yield from (Path(top) / name for name in files)


def _walk(folder: Path, *, followlinks: bool) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk in sorted order (so which path reaches a folder first is fixed), hidden folders
    left out."""
    for top, folders, files in os.walk(folder, followlinks=followlinks):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        yield top, folders, files


def _plain_path(top: str, folder: Path) -> bool:
    """Whether `top`, below `folder`, is reached through no link."""
    path = Path(top)
    while path != Path(folder) and path != path.parent:
        if path.is_symlink():
            return False
        path = path.parent
    return True


def reference_files(folder: Path) -> list[Path]:
    """The image files in `folder` (and below), sorted; ValueError if none or no folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"reference folder {folder} does not exist")
    files = image_files(folder, below=True)
    if not files:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise ValueError(f"reference folder {folder} holds no images ({suffixes})")
    return files


def image_load(path: Path, size: int) -> Tensor:
    """(3, size, size) RGB in [0, 1] as ImageNet networks are evaluated: the shorter side
    resized to size * 256/224 (256 for 224), then the centre size x size crop. The selectivity
    recording loads its images the same way, so both see what the network's evaluation sees.
    ValueError naming a file that cannot be read (16-bit greys are read, as `image_8bit`
    says)."""
    try:
        with Image.open(path) as image:
            rgb = image_8bit(image)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as error:
        raise ValueError(_unreadable(path, error)) from None
    resized = TF.resize(TF.pil_to_tensor(rgb), round(size * 256 / 224), antialias=True)
    return TF.center_crop(resized, [size, size]).float() / 255.0


def images_check(files: list[Path]) -> None:
    """ValueError, as `image_load` words it, for the first file that is no image Pillow knows
    or too large for it to read; only the files' headers are read (nothing is decoded), so a
    run checks its whole reference set before it does any work."""
    for path in files:
        try:
            with Image.open(path):
                pass
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
            raise ValueError(_unreadable(path, error)) from None


def _unreadable(path: Path, error: Exception) -> str:
    """What is wrong with an image file that does not open, and for a huge one what to do."""
    if not isinstance(error, Image.DecompressionBombError):
        return f"image {path} is not readable: {error}"
    pixels = re.search(r"\((\d+) pixels\)", str(error))  # only Pillow's message says how many
    count = f"{int(pixels[1]):,} pixels" if pixels else "too many pixels"
    return (
        f"image {path} has {count}, more than Pillow reads ({2 * Image.MAX_IMAGE_PIXELS:,}: "
        "it takes such images for decompression bombs); resize it, to 1000 pixels on its longer "
        "side say (it is read at a few hundred), or take it out of the folder"
    )


def reference_batches(network: str, reference: Path | None, size: int) -> Iterator[Tensor] | None:
    """Batches (B, 3, size, size) of natural images; None where there is no reference set."""
    if reference is not None:
        files = reference_files(reference)
        return (
            torch.stack([image_load(p, size) for p in files[i : i + REFERENCE_BATCH]])
            for i in range(0, len(files), REFERENCE_BATCH)
        )
    if network == "demo":
        from generator.am.demo import digits_dataset

        images, _ = digits_dataset()
        return iter(images.split(REFERENCE_BATCH * 4))
    return None


@torch.no_grad()
def reference_maxima(
    target: TargetNetwork, config: AMConfig, *, reference: Path | None
) -> Tensor | None:
    """(units,) highest value of each unit of `config.layer` over the reference images.

    Values are taken as the sampler targets them: pre-ReLU unless configured otherwise, and
    conv units at the centre of the map or its spatial max, as `config.spatial` says.
    """
    batches = reference_batches(config.network, reference, target.spec.input_size)
    if batches is None:
        return None
    layer, best = target.spec.layer(config.layer), None
    for images in batches:
        x = target.preprocess(images.to(target.device))
        value = target.activations(x, [layer.alias])[layer.alias]
        value = value if config.pre_relu else rectified(value, layer)
        batch_max = layer_vector(value, spatial=config.spatial).amax(dim=0).float().cpu()
        best = batch_max if best is None else torch.maximum(best, batch_max)
    return best
