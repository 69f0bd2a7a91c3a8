"""One unit's activations ranked once, shared by every measure (an O(N log N) sort).

Every measure reads the same ranking: images sorted by activation, highest first, ties kept in
image order so results are deterministic. A *block* is a run of equal activations; a threshold
t counts an image as "above" when its activation is >= t, so a block is never split.
"""

from dataclasses import dataclass

import numpy as np

_INDEX_BITS = 24  # room for 16.7 million images per unit


class SelectivityInputError(ValueError):
    """Activations or labels that the measures cannot be computed on."""


@dataclass(frozen=True)
class RankedUnit:
    """A unit's activations sorted highest first, with per-position class bookkeeping."""

    activations: np.ndarray  # (N,) float32, sorted descending, ties in image order
    labels: np.ndarray  # (N,) int, labels in the same order
    order: np.ndarray  # (N,) int64, image index at each rank
    class_sizes: np.ndarray  # (C,) int64, images per class over the whole set
    num_classes: int

    @property
    def n_images(self) -> int:
        return int(self.activations.shape[0])

    @property
    def is_dead(self) -> bool:
        """True when every image gives the same activation (no threshold separates anything)."""
        return bool(self.activations[0] == self.activations[-1])

    def last_of_block(self) -> np.ndarray:
        """(N,) bool: the position is the last (lowest-ranked) image of its block of ties."""
        last = np.ones(self.n_images, dtype=bool)
        np.not_equal(self.activations[1:], self.activations[:-1], out=last[:-1])
        return last

    def positives_at_block_end(self) -> np.ndarray:
        """(N,) int64: images at or above the threshold set at this position's activation."""
        n = self.n_images
        end = np.where(self.last_of_block(), np.arange(1, n + 1), n)
        return np.minimum.accumulate(end[::-1])[::-1]

    def class_hits_so_far(self) -> np.ndarray:
        """(N,) int64: images of this position's class ranked at or above this position."""
        n = self.n_images
        by_class = np.argsort(self.labels, kind="stable")  # radix sort for small int labels
        class_start = np.cumsum(self.class_sizes) - self.class_sizes
        hits = np.empty(n, dtype=np.int64)
        hits[by_class] = np.arange(1, n + 1) - class_start[self.labels[by_class]]
        return hits


def validate_unit(activations: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
    """Raise SelectivityInputError unless activations and labels describe the same images."""
    if activations.ndim != 1 or labels.ndim != 1:
        raise SelectivityInputError("Activations and labels must be one-dimensional arrays.")
    if activations.shape[0] != labels.shape[0]:
        raise SelectivityInputError(
            f"{activations.shape[0]} activations but {labels.shape[0]} labels; "
            "there must be one label per image."
        )
    if activations.shape[0] < 2:
        raise SelectivityInputError("At least two images are needed to measure selectivity.")
    if activations.shape[0] >= 1 << _INDEX_BITS:
        raise SelectivityInputError(f"At most {(1 << _INDEX_BITS) - 1} images per unit.")
    if not np.isfinite(activations).all():
        raise SelectivityInputError("Activations contain NaN or infinite values.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise SelectivityInputError(f"Labels must lie in 0..{num_classes - 1}.")


def _descending_keys(activations: np.ndarray) -> np.ndarray:
    """(N,) uint64 keys whose ascending order is activation descending, then image index."""
    bits = (activations.astype(np.float32) + np.float32(0.0)).view(np.uint32)  # -0.0 -> 0.0
    negative = (bits >> 31).astype(bool)
    ascending = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    descending = (~ascending).astype(np.uint64)
    index = np.arange(activations.shape[0], dtype=np.uint64)
    return (descending << np.uint64(_INDEX_BITS)) | index


def rank_unit(activations: np.ndarray, labels: np.ndarray, num_classes: int) -> RankedUnit:
    """Sort one unit's activations (N,) with their labels (N,); validates both first."""
    activations = np.asarray(activations, dtype=np.float32)
    labels = np.asarray(labels)
    validate_unit(activations, labels, num_classes)
    keys = np.sort(_descending_keys(activations))
    order = (keys & np.uint64((1 << _INDEX_BITS) - 1)).astype(np.int64)
    small = labels.astype(np.int16 if num_classes < 1 << 15 else np.int32)
    return RankedUnit(
        activations=activations[order],
        labels=small[order],
        order=order,
        class_sizes=np.bincount(labels, minlength=num_classes).astype(np.int64),
        num_classes=num_classes,
    )
