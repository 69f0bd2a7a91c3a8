"""Panels tiled from scikit-learn's handwritten digits, for practice and demo data; no database.

The digits are real handwriting (1797 scans of 8x8 pixels, 16 grey levels), so a panel of
20 threes shows "multiple examples of an everyday object" and the intended answer is yes;
pixel noise and shuffled fragments of digits show no object and the intended answer is no.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

PANEL_COLUMNS = 5
PANEL_IMAGES = 20  # the paper's practice panels hold 20 natural images
CELL_PX = 96  # each 8x8 digit upscaled 12x: legible on a laptop screen
GAP_PX = 8
INK_MAX = 16.0  # load_digits' darkest grey level


@cache
def digit_dataset() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images (1797, 8, 8) in 0..16 and their digit (1797,)."""
    dataset = load_digits()
    return dataset.images, dataset.target


@dataclass(frozen=True)
class PracticePanel:
    """A practice panel's name, intended answer and label, and its images (N, 8, 8)."""

    name: str
    answer: str
    label: str
    digits: np.ndarray


def digit_images(digit: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` different handwritten examples of `digit`, (count, 8, 8) in 0..16."""
    images, targets = digit_dataset()
    examples = images[targets == digit]
    return examples[rng.choice(len(examples), size=count, replace=False)]


def digit_fragments(count: int, rng: np.random.Generator) -> np.ndarray:
    """Images of 4x4 quarters cut from random digits and shuffled: strokes, but no digit."""
    images = digit_dataset()[0][rng.choice(1797, size=count, replace=False)]
    quarters = images.reshape(count, 2, 4, 2, 4).transpose(0, 1, 3, 2, 4).reshape(-1, 4, 4)
    quarters = quarters[rng.permutation(len(quarters))]
    # Rotate each quarter by a random multiple of 90 degrees so no stroke lines up again.
    quarters = np.stack(
        [np.rot90(q, k) for q, k in zip(quarters, rng.integers(0, 4, len(quarters)), strict=True)]
    )
    return quarters.reshape(count, 2, 2, 4, 4).transpose(0, 1, 3, 2, 4).reshape(count, 8, 8)


def pixel_noise(count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform grey-level noise in the digits' value range, (count, 8, 8)."""
    return rng.integers(0, int(INK_MAX) + 1, size=(count, 8, 8)).astype(float)


def scrambled_digits(count: int, rng: np.random.Generator) -> np.ndarray:
    """Real digits with their 64 pixels permuted: the same ink, no shape."""
    images = digit_dataset()[0][rng.choice(1797, size=count, replace=False)].reshape(count, 64)
    return np.stack([row[rng.permutation(64)] for row in images]).reshape(count, 8, 8)


def practice_panels(seed: int = 0) -> list[PracticePanel]:
    """The seven practice panels of the demo: four of one digit each (yes), three of no object.

    One more than the demo's six practice trials, so that a "yes" panel is left over for the
    instructions' example (participant_enter keeps one out of every participant's practice)."""
    rng = np.random.default_rng(seed)

    def digit_panel(digit: int) -> PracticePanel:
        images = digit_images(digit, PANEL_IMAGES, rng)
        return PracticePanel(f"yes-digit-{digit}", "yes", f"digit {digit}", images)

    panels = [digit_panel(d) for d in (3, 7, 0)]
    panels += [
        PracticePanel("no-pixel-noise", "no", "", pixel_noise(PANEL_IMAGES, rng)),
        PracticePanel("no-digit-fragments", "no", "", digit_fragments(PANEL_IMAGES, rng)),
        PracticePanel("no-scrambled-digits", "no", "", scrambled_digits(PANEL_IMAGES, rng)),
    ]
    return panels + [digit_panel(5)]  # last: the panels before it stay as they were


def panel_tile(digits: np.ndarray, columns: int = PANEL_COLUMNS) -> Image.Image:
    """Tile (N, 8, 8) digits into one image: dark ink on white cells on a grey grid."""
    rows = -(-len(digits) // columns)
    step = CELL_PX + GAP_PX
    panel = Image.new("L", (columns * step + GAP_PX, rows * step + GAP_PX), color=200)
    for index, digit in enumerate(digits):
        grey = (255 - np.clip(digit, 0, INK_MAX) * (255 / INK_MAX)).astype(np.uint8)  # (8, 8)
        cell = Image.fromarray(grey).resize((CELL_PX, CELL_PX), Image.Resampling.BICUBIC)
        row, column = divmod(index, columns)
        panel.paste(cell, (GAP_PX + column * step, GAP_PX + row * step))
    return panel.convert("RGB")


def practice_panels_write(directory: Path, seed: int = 0) -> list[Path]:
    """Write the practice panels as PNGs named so import_panels --practice reads their answer."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for panel in practice_panels(seed):
        path = directory / f"{panel.name}.png"
        panel_tile(panel.digits).save(path)
        paths.append(path)
    return paths


def digit_unit_panels_write(
    directory: Path, *, layer: str, units: int, images: int = 100, seed: int = 0
) -> list[Path]:
    """Write `units` panels named `<layer>_<unit>.png`, each of one digit (tests and demos)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for unit in range(units):
        path = directory / f"{layer}_{unit:04d}.png"
        panel_tile(digit_images(unit % 10, images, rng), columns=10).save(path)
        paths.append(path)
    return paths
