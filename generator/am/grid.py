"""Tiling a unit's AM images into the rows x cols panel that participants rate."""

import re

import numpy as np
import torch
from PIL import Image, ImageOps

from experiment.panel_images import image_8bit

WEB_MAX_SIDE = 1000  # px; a 10x10 panel stays legible on a laptop screen
WEB_JPEG_QUALITY = 85
# zlib level of the PNG files: 1 encodes natural-looking 227 px pictures 3x faster than
# Pillow's default 6 for files about 9% larger (docs/benchmarks.md), and encoding is what
# writing a unit costs.
PNG_COMPRESS_LEVEL = 1
GAP_COLOUR = 255  # white lines between the images, as in the paper's panels

_GRID_PATTERN = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_grid(text: str) -> tuple[int, int]:
    """Read "ROWSxCOLS" (e.g. "10x10") into (rows, cols); ValueError saying what is wrong."""
    match = _GRID_PATTERN.match(text)
    if not match:
        raise ValueError(f"grid {text!r} is not of the form ROWSxCOLS, e.g. 10x10")
    rows, cols = int(match.group(1)), int(match.group(2))
    if rows < 1 or cols < 1:
        raise ValueError(f"grid {text!r} needs at least one row and one column")
    return rows, cols


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Convert images (N, 3, H, W) float in [0, 1] to (N, H, W, 3) uint8; uint8 HWC passes.

    A tensor is converted where it lies (on the GPU a quarter of the bytes then come back),
    with the same float32 arithmetic as an array, so both give the same pixels."""
    if isinstance(images, torch.Tensor) and images.dtype != torch.uint8:
        _check_nchw(tuple(images.shape))
        scaled = images.detach().float().clamp(0.0, 1.0) * 255.0 + 0.5
        return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    _check_nchw(images.shape)
    scaled = np.clip(images.astype(np.float32, copy=False), 0.0, 1.0) * 255.0 + 0.5
    return scaled.astype(np.uint8).transpose(0, 2, 3, 1)


def _check_nchw(shape: tuple) -> None:
    if len(shape) != 4 or shape[1] != 3:
        raise ValueError(f"expected images of shape (N, 3, H, W), got {shape}")


def tile(images: torch.Tensor | np.ndarray, rows: int, cols: int, *, gap: int = 2) -> Image.Image:
    """Lay out rows * cols images row by row into one full-resolution panel.

    images: (N, 3, H, W) float in [0, 1] or (N, H, W, 3) uint8 with N == rows * cols.
    gap: pixels of white between neighbouring images (none around the border).
    """
    pixels = to_uint8(images)  # (N, H, W, 3)
    count, height, width, _ = pixels.shape
    if count != rows * cols:
        raise ValueError(f"a {rows}x{cols} grid takes {rows * cols} images, got {count}")
    panel = np.full(
        (rows * height + (rows - 1) * gap, cols * width + (cols - 1) * gap, 3),
        GAP_COLOUR,
        dtype=np.uint8,
    )
    for index in range(count):
        top = (index // cols) * (height + gap)
        left = (index % cols) * (width + gap)
        panel[top : top + height, left : left + width] = pixels[index]
    return Image.fromarray(panel)


def web_size(panel: Image.Image, max_side: int = WEB_MAX_SIDE) -> Image.Image:
    """The panel scaled so its longest side is at most max_side px (never enlarged)."""
    web = panel.convert("RGB")
    web.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return web


def photos_square(paths: list, size: int) -> np.ndarray:
    """Photographs as (N, size, size, 3) uint8 tiles: each centre-cropped to a square and
    resized, as AM pictures are square; transparent parts white, as the panel's lines; 16-bit
    greys scaled to 8 bits (`image_8bit`). ValueError naming a file that cannot be read."""
    tiles = []
    for path in paths:
        try:
            with Image.open(path) as photo:
                flat = Image.new("RGBA", photo.size, (GAP_COLOUR,) * 3 + (255,))
                flat.alpha_composite(image_8bit(photo, "RGBA"))
                square = ImageOps.fit(flat.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
        except (OSError, Image.DecompressionBombError, ValueError) as error:
            raise ValueError(f"{path}: not a readable image ({error})") from None
        tiles.append(np.asarray(square))
    return np.stack(tiles)
