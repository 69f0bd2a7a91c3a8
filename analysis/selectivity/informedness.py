"""Signal-detection measures over a ranked unit: max informedness and recall at a precision.

One pass over the ranking evaluates each position's own class at each position's threshold:
a class's informedness can only peak at a threshold whose block holds one of its images (any
other threshold adds false alarms only), so classes x thresholds is never formed.
Informedness J = sensitivity + specificity - 1 = hits/n - false_alarms/m (Powers 2003), with
n the class's images and m the others.
"""

from dataclasses import dataclass

import numpy as np

from analysis.selectivity.compat import CORRECT, Conventions
from analysis.selectivity.ranking import RankedUnit


@dataclass(frozen=True)
class Informedness:
    """A class and threshold with their informedness, sensitivity, specificity, false alarms."""

    value: float
    klass: int
    threshold: float
    sensitivity: float
    specificity: float
    false_alarm_rate: float


def threshold_positives(ranked: RankedUnit, conventions: Conventions) -> np.ndarray:
    """(N,) images counted above the threshold at each rank: whole blocks, or image by image."""
    if conventions.ties == "image":
        return np.arange(1, ranked.n_images + 1, dtype=np.int64)
    return ranked.block_positives


def recall_at_precision(
    ranked: RankedUnit, klass: int, percent: int, conventions: Conventions = CORRECT
) -> float:
    """Largest recall of `klass` over thresholds whose precision is at least percent/100.

    Only thresholds at the class's own images can be best (others add false alarms only).
    """
    members = np.flatnonzero(ranked.labels == klass)  # (n_A,) ranks, ascending
    positives = threshold_positives(ranked, conventions)[members]
    hits = np.searchsorted(members, positives, side="left")  # members ranked above
    allowed = hits * 100 >= percent * positives  # exact integer comparison
    best = int(hits[allowed].max()) if allowed.any() else 0
    return best / int(ranked.class_sizes[klass])


def informedness_curve(ranked: RankedUnit, conventions: Conventions = CORRECT) -> np.ndarray:
    """(A,) informedness (float64) of each active position's class at its threshold.

    Exact up to rounding at the last image of each class within a block (where a class's
    informedness can peak); lower elsewhere. Classes without negatives get -inf.
    J = hits * (1/n + 1/m) - positives / m (m: all images instead under gale2020).
    """
    active = slice(0, ranked.active)
    labels = ranked.labels[active]
    sizes = ranked.class_sizes.astype(np.float64)
    negatives = ranked.n_images - sizes
    base = _alarm_base(ranked, negatives, conventions)
    with np.errstate(divide="ignore"):
        per_negative = np.where(negatives > 0, 1.0 / base, np.inf)
        hit_weight = 1.0 / np.maximum(sizes, 1) + per_negative
    curve = ranked.class_hits * hit_weight[labels]
    with np.errstate(invalid="ignore"):
        curve -= threshold_positives(ranked, conventions)[active] * per_negative[labels]
    if not np.isfinite(per_negative).all():
        curve[np.isnan(curve)] = -np.inf  # inf - inf: a class holding every image
    return curve


def exact_informedness(
    ranked: RankedUnit, positions: np.ndarray, conventions: Conventions = CORRECT
) -> np.ndarray:
    """Informedness at active `positions` as one division of exact integers (ties compare equal)."""
    sizes = ranked.class_sizes[ranked.labels[positions]]
    negatives = ranked.n_images - sizes
    base = _alarm_base(ranked, negatives, conventions)
    hits = ranked.class_hits[positions]
    false_alarms = threshold_positives(ranked, conventions)[positions] - hits
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (hits * base - false_alarms * sizes) / (sizes * base)
    return np.where(negatives > 0, values, -np.inf)


def _alarm_base(ranked: RankedUnit, negatives, conventions: Conventions):
    """What false alarms are divided by: the class's non-members, or (gale2020) all images."""
    return ranked.n_images if conventions.false_alarms_over_all_images else negatives


def _allowed_classes(ranked: RankedUnit, conventions: Conventions) -> np.ndarray | None:
    """The first classes seen in the top images, read upwards from the last of them (gale2020,
    whose Counter of the top 100 keeps the order its list of them runs in: rank 100 to 1), or
    None for all classes."""
    if conventions.informedness_classes is None:
        return None
    upwards = ranked.labels[: conventions.informedness_classes_top][::-1]
    _, first_seen = np.unique(upwards, return_index=True)
    return upwards[np.sort(first_seen)][: conventions.informedness_classes]


def max_informedness(ranked: RankedUnit, conventions: Conventions = CORRECT) -> Informedness | None:
    """Powers 2003: max over classes and thresholds of sensitivity + specificity - 1.

    Ties go to the highest threshold, then to the smallest class index. None when no class
    has both members and non-members.
    """
    curve = informedness_curve(ranked, conventions)
    allowed = _allowed_classes(ranked, conventions)
    if allowed is not None:
        curve[~np.isin(ranked.labels[: ranked.active], allowed)] = -np.inf
    top = curve.max() if curve.size else -np.inf
    if not np.isfinite(top):  # no allowed class with non-members among the active images
        return _at_bottom(ranked, allowed, conventions) if ranked.active < ranked.n_images else None
    near = np.flatnonzero(curve >= top - 1e-9)  # rounding aside, the maxima are among these
    exact = exact_informedness(ranked, near, conventions)
    # Decided on the exact values: a J of exactly 0 above the bottom block can round to -2e-16,
    # and the highest threshold must win that tie with the bottom block's J = 0.
    if exact.max() < 0 and ranked.active < ranked.n_images:
        return _at_bottom(ranked, allowed, conventions)
    best = near[exact == exact.max()]
    if conventions.ties == "image":
        return _at_position(ranked, int(best[0]), conventions)
    same_threshold = best[ranked.activations[best] == ranked.activations[best[0]]]
    position = same_threshold[np.argmin(ranked.labels[same_threshold])]
    return _at_position(ranked, int(position), conventions)


def _at_bottom(ranked: RankedUnit, allowed, conventions: Conventions) -> Informedness | None:
    """At the lowest activation every image is above: J = 0 for every class with negatives."""
    sizes = ranked.class_sizes
    classes = np.flatnonzero((sizes > 0) & (sizes < ranked.n_images))
    if allowed is not None:
        classes = np.intersect1d(classes, allowed)
    if classes.size == 0:
        return None
    return _informedness_at(
        ranked, int(classes[0]), ranked.n_images, float(ranked.activations[-1]), conventions
    )


def informedness_by_class(
    ranked: RankedUnit, conventions: Conventions = CORRECT, classes=None
) -> dict[int, Informedness]:
    """Max informedness of `classes` (default: every class with members and non-members).

    O(C x N) over all classes: for reports and tests, not the bulk path.
    """
    sizes = ranked.class_sizes
    candidates = np.flatnonzero((sizes > 0) & (sizes < ranked.n_images))
    active_labels = ranked.labels[: ranked.active]
    best = {}
    for klass in candidates if classes is None else np.intersect1d(candidates, classes):
        positions = np.flatnonzero(active_labels == klass)
        values = exact_informedness(ranked, positions, conventions)
        if positions.size and values.max() >= 0:
            best[int(klass)] = _at_position(ranked, int(positions[np.argmax(values)]), conventions)
        else:
            best[int(klass)] = _at_bottom(ranked, [klass], conventions)
    return best


def _at_position(ranked: RankedUnit, position: int, conventions: Conventions) -> Informedness:
    """Informedness of the position's class at the position's threshold."""
    above = int(threshold_positives(ranked, conventions)[position])
    threshold = float(ranked.activations[position])
    return _informedness_at(ranked, int(ranked.labels[position]), above, threshold, conventions)


def _informedness_at(
    ranked: RankedUnit, klass: int, above: int, threshold: float, conventions: Conventions
) -> Informedness:
    """Sensitivity, specificity and false alarms of `klass` with `above` images above."""
    hits = int(np.count_nonzero(ranked.labels[:above] == klass))
    size = int(ranked.class_sizes[klass])
    base = int(_alarm_base(ranked, ranked.n_images - size, conventions))
    false_alarms = above - hits
    return Informedness(
        value=(hits * base - false_alarms * size) / (size * base),
        klass=klass,
        threshold=float(above) if conventions.threshold_as_rank else threshold,
        sensitivity=hits / size,
        specificity=(base - false_alarms) / base,
        false_alarm_rate=false_alarms / base,
    )
