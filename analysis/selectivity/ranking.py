"""One unit's activations ranked once, shared by every measure (an O(N log N) sort).

Every measure reads the same ranking: images sorted by activation, highest first, ties kept in
image order so results are deterministic. A *block* is a run of equal activations; a threshold
t counts an image as "above" when its activation is >= t, so a block is never split.
"""

import operator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

_INDEX_BITS = 24  # room for 16.7 million images per unit


class SelectivityInputError(ValueError):
    """Activations or labels that the measures cannot be computed on."""


@dataclass(frozen=True)
class ClassLabels:
    """The images' classes, prepared once for all units of a file."""

    labels: np.ndarray  # (N,) int16 (int32 for more than 32767 classes)
    class_sizes: np.ndarray  # (C,) int64, images per class
    num_classes: int

    @classmethod
    def prepare(cls, labels: np.ndarray, num_classes: int) -> "ClassLabels":
        """Check labels (N,) lie in 0..num_classes-1 and store them compactly. `num_classes`
        may be any integer (a numpy integer read from a file included); it is kept as an int."""
        try:
            num_classes = operator.index(num_classes)
        except TypeError:
            raise SelectivityInputError(
                f"The number of classes must be a whole number, not {num_classes!r}."
            ) from None
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] == 0 or labels.dtype.kind not in "iu":
            raise SelectivityInputError("Labels must be a non-empty 1-D array of integers.")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise SelectivityInputError(f"Labels must lie in 0..{num_classes - 1}.")
        small = labels.astype(np.int16 if num_classes < 1 << 15 else np.int32)
        sizes = np.bincount(small, minlength=num_classes).astype(np.int64)
        return cls(labels=small, class_sizes=sizes, num_classes=num_classes)


@dataclass(frozen=True)
class RankedUnit:
    """A unit's activations sorted highest first, with per-position class bookkeeping."""

    activations: np.ndarray  # (N,) float32, sorted descending, ties in image order
    labels: np.ndarray  # (N,) int16, labels in the same order
    order: np.ndarray  # (N,) int64, image index at each rank
    class_sizes: np.ndarray  # (C,) int64, images per class over the whole set
    num_classes: int
    # Positions 0..active-1 hold the images above the lowest activation when the bottom block
    # was split off (it is then one threshold where every class has informedness 0); else N.
    active: int

    @property
    def n_images(self) -> int:
        return int(self.activations.shape[0])

    def with_counts(self, *, class_hits: np.ndarray, block_positives: np.ndarray) -> "RankedUnit":
        """Seed the cached per-position counts when they were computed elsewhere (torch path)."""
        self.__dict__.update(class_hits=class_hits, block_positives=block_positives)
        return self

    @property
    def is_dead(self) -> bool:
        """True when every image gives the same activation (no threshold separates anything)."""
        return bool(self.activations[0] == self.activations[-1])

    def last_of_block(self) -> np.ndarray:
        """(N,) bool: the position is the last (lowest-ranked) image of its block of ties."""
        last = np.ones(self.n_images, dtype=bool)
        np.not_equal(self.activations[1:], self.activations[:-1], out=last[:-1])
        return last

    @cached_property
    def block_positives(self) -> np.ndarray:
        """(N,) int64: images at or above the threshold set at this position's activation."""
        ends = np.flatnonzero(self.last_of_block())
        lengths = np.diff(ends, prepend=-1)
        return np.repeat(ends + 1, lengths)

    @cached_property
    def class_hits(self) -> np.ndarray:
        """(A,) int64: images of this position's class ranked at or above it, active part."""
        n = self.active
        position_bits = max(1, (n - 1).bit_length())
        wide = position_bits + max(1, (self.num_classes - 1).bit_length()) > 32
        dtype = np.uint64 if wide else np.uint32
        keys = self.labels[:n].astype(dtype) << dtype(position_bits)
        keys |= np.arange(n, dtype=dtype)
        keys.sort()  # grouped by class, positions ascending within a class
        positions = (keys & dtype((1 << position_bits) - 1)).astype(np.int64)
        classes = (keys >> dtype(position_bits)).astype(np.int64)
        sizes = np.bincount(classes, minlength=self.num_classes)  # within the active part
        class_start = np.cumsum(sizes) - sizes
        hits = np.empty(n, dtype=np.int64)
        hits[positions] = np.arange(1, n + 1) - class_start[classes]
        return hits


def validate_unit(activations: np.ndarray, labels: ClassLabels) -> None:
    """Raise SelectivityInputError unless the activations (N,) fit the labels (N,)."""
    if activations.ndim != 1:
        raise SelectivityInputError("A unit's activations must be a one-dimensional array.")
    if activations.shape[0] != labels.labels.shape[0]:
        raise SelectivityInputError(
            f"{activations.shape[0]} activations but {labels.labels.shape[0]} labels; "
            "there must be one label per image."
        )
    if activations.shape[0] < 2:
        raise SelectivityInputError("At least two images are needed to measure selectivity.")
    if activations.shape[0] >= 1 << _INDEX_BITS:
        raise SelectivityInputError(f"At most {(1 << _INDEX_BITS) - 1} images per unit.")
    if not np.isfinite(activations).all():
        raise SelectivityInputError("Activations contain NaN or infinite values.")


def _descending_keys(activations: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(N,) uint64 keys whose ascending order is activation descending, then image index."""
    bits = (activations + np.float32(0.0)).view(np.uint32)  # -0.0 -> 0.0
    if (bits >> 31).any():  # the IEEE bits of negative numbers sort backwards
        bits = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))
    keys = np.invert(bits).astype(np.uint64)
    keys <<= np.uint64(_INDEX_BITS)
    keys |= indices.astype(np.uint64)
    return keys


def rank_unit(
    activations: np.ndarray,
    labels: "ClassLabels | np.ndarray",
    num_classes: int | None = None,
    *,
    split_bottom: bool = True,
) -> RankedUnit:
    """Sort one unit's activations (N,) with their labels; validates both first.

    `labels` is a prepared ClassLabels (fast, for many units) or an (N,) integer array with
    `num_classes`. With `split_bottom`, only images above the lowest activation are sorted (the
    lowest block follows in image order, as a full sort would give): ReLU units are mostly 0.
    """
    if not isinstance(labels, ClassLabels):
        labels = ClassLabels.prepare(labels, num_classes or int(np.max(labels)) + 1)
    activations = np.asarray(activations, dtype=np.float32)
    validate_unit(activations, labels)
    lowest = activations.min()
    above = activations > lowest if split_bottom else np.ones(len(activations), bool)
    indices = np.flatnonzero(above)
    active = indices.shape[0]
    keys = np.sort(_descending_keys(activations[indices], indices))
    order = np.empty(activations.shape[0], dtype=np.int64)
    order[:active] = keys & np.uint64((1 << _INDEX_BITS) - 1)
    order[active:] = np.flatnonzero(~above)
    ranked_values = np.empty_like(activations)
    ranked_values[:active] = activations[order[:active]]
    ranked_values[active:] = lowest
    return RankedUnit(
        activations=ranked_values,
        labels=labels.labels[order],
        order=order,
        class_sizes=labels.class_sizes,
        num_classes=labels.num_classes,
        active=int(active),
    )
