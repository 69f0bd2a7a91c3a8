"""Selectivity measures of one unit: arrays in, scores out (paper section 2; docs/measures.md).

Each unit is ranked once (ranking.py); every measure is then one pass over the ranking, so the
work per unit is O(N log N) and informedness is never evaluated over classes x thresholds.
"""

from dataclasses import dataclass, field, fields, replace
from fractions import Fraction

import numpy as np

from analysis.selectivity.compat import CORRECT, Conventions
from analysis.selectivity.informedness import (
    Informedness,
    max_informedness,
    recall_at_precision,
)
from analysis.selectivity.ranking import ClassLabels, RankedUnit, rank_unit


@dataclass(frozen=True)
class MeasureSettings:
    """Parameters of the measures; saved beside every score set."""

    precision_k: int = 60
    top_classes_k: int = 100
    conventions: Conventions = field(default_factory=lambda: CORRECT)


@dataclass(frozen=True)
class UnitScores:
    """Every measure of one unit; None where a measure is undefined (e.g. a dead unit)."""

    unit: int
    n_images: int
    is_dead: bool = False
    is_localist: bool = False
    localist_class: int | None = None
    localist_gap: float | None = None
    precision: float | None = None
    precision_class: int | None = None
    precision_k: int = 60
    classes_in_top100: int | None = None
    ccmas: float | None = None
    ccmas_class: int | None = None
    most_active_class: int | None = None
    recall_at_100_precision: float | None = None
    recall_at_95_precision: float | None = None
    max_informedness: float | None = None
    max_informedness_class: int | None = None
    max_informedness_threshold: float | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    false_alarm_rate: float | None = None

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def localist(ranked: RankedUnit) -> tuple[bool, int | None, float | None]:
    """Bowers et al. 2014: is the top image's class A strictly above and disjoint from not-A?

    Returns (is_localist, A, gap) with gap = min(a | A) - max(a | not A), negative when the
    sets overlap; (False, None, None) when every image is in one class.
    """
    top_class = int(ranked.labels[0])
    size = int(ranked.class_sizes[top_class])
    if size == ranked.n_images:
        return False, None, None
    in_class = ranked.labels == top_class
    lowest_in = ranked.n_images - 1 - int(np.argmax(in_class[::-1]))
    highest_out = int(np.argmin(in_class))  # first image of another class
    gap = float(ranked.activations[lowest_in]) - float(ranked.activations[highest_out])
    return gap > 0, top_class, gap


def precision_top_k(
    ranked: RankedUnit, k: int, conventions: Conventions = CORRECT
) -> tuple[float, int]:
    """Zhou et al. 2015: largest share of one class among the k most active images, and it.

    As the paper counts it ("50 of the 60 images labeled 'lamp'": 50/60), over k images (N if
    N < k); images at the unit's lowest activation do not drive it and count for no class, so
    a unit on for one image is far from a grandmother cell (paper, figure 12a-b). The smallest
    class index wins a tie; ties at the k-th image are taken in image order. (gale2020: see
    Conventions.top_k_counts_lowest.)
    """
    considered = min(k, ranked.n_images)
    top = _top_counted(ranked, considered, conventions)
    counts = np.bincount(top, minlength=ranked.num_classes)
    if conventions.top_k_counts_lowest:
        upwards = top[::-1]  # the published code's Counter meets them from the k-th image up
        klass = int(upwards[np.argmax(counts[upwards] == counts.max())])
    else:
        klass = int(np.argmax(counts))
    return float(counts[klass]) / considered, klass


def classes_in_top(ranked: RankedUnit, k: int, conventions: Conventions = CORRECT) -> int:
    """Number of distinct classes among the k most active images above the lowest activation
    (gale2020: among the k first-ranked, those at the lowest activation too)."""
    return int(np.unique(_top_counted(ranked, min(k, ranked.n_images), conventions)).shape[0])


def _top_counted(ranked: RankedUnit, k: int, conventions: Conventions) -> np.ndarray:
    """Classes of the first k ranked images that count for a class."""
    if conventions.top_k_counts_lowest:
        return ranked.labels[:k]
    return ranked.labels[: min(k, above_lowest(ranked))]


def above_lowest(ranked: RankedUnit) -> int:
    """Images strictly above the unit's lowest activation: those the unit responds to at all.

    Below them is one block of ties (ReLU zeros) in file order; taking some of it into a top-k
    would make the measures depend on how the file is sorted.
    """
    if ranked.active < ranked.n_images:  # the bottom block was split off when ranking
        return ranked.active
    return int(np.count_nonzero(ranked.activations > ranked.activations[-1]))


def ccmas(ranked: RankedUnit) -> tuple[float | None, int]:
    """Morcos et al. 2018: (mu_A - mu_notA) / (mu_A + mu_notA) for the class A of highest mean.

    mu_notA is the mean over all images not in A; the smallest A wins a tie. Returns (None, A)
    when undefined: a single
    class, or mu_A + mu_notA == 0 (a dead unit at zero, or activations cancelling out).
    """
    sizes, active = ranked.class_sizes, slice(0, ranked.active)
    labels = ranked.labels[active]
    weights = ranked.activations[active].astype(np.float64)
    sums = np.bincount(labels, weights=weights, minlength=ranked.num_classes)
    if ranked.active < ranked.n_images:  # the bottom block, all at the lowest activation
        bottom = sizes - np.bincount(labels, minlength=ranked.num_classes)
        sums += bottom * float(ranked.activations[-1])
    means = np.where(sizes > 0, sums / np.maximum(sizes, 1), -np.inf)
    # Equal means can come out an ulp apart, summed in other orders, and unequal ones too: the
    # classes whose float means are within far more than rounding of the best are compared
    # again exactly (rare, and few of them); the smallest class index wins a tie.
    best = means.max()
    near = np.flatnonzero(means >= best - abs(best) * 1e-9)
    klass = int(near[0])
    if len(near) > 1:
        exact = {int(c): _exact_mean(ranked, int(c)) for c in near}
        klass = min(c for c, mean in exact.items() if mean == max(exact.values()))
    rest = ranked.n_images - sizes[klass]
    if rest == 0:
        return None, klass
    mu_a, mu_not_a = means[klass], (sums.sum() - sums[klass]) / rest
    if mu_a + mu_not_a == 0:
        return None, klass
    return float((mu_a - mu_not_a) / (mu_a + mu_not_a)), klass


def _exact_mean(ranked: RankedUnit, klass: int) -> Fraction:
    """The mean activation of a class's images in exact arithmetic (floats are exact
    fractions), the bottom block's images included."""
    active = ranked.activations[: ranked.active][ranked.labels[: ranked.active] == klass]
    total = sum(map(Fraction, active.tolist()), Fraction(0))
    bottom = int(ranked.class_sizes[klass]) - len(active)
    if bottom:
        total += bottom * Fraction(float(ranked.activations[-1]))
    return total / int(ranked.class_sizes[klass])


def unit_scores(
    activations: np.ndarray,
    labels: ClassLabels | np.ndarray,
    *,
    num_classes: int | None = None,
    unit: int = 0,
    settings: MeasureSettings | None = None,
) -> UnitScores:
    """Every measure of one unit from its activations (N,) and the images' classes.

    `labels`: a ClassLabels prepared once for many units, or an (N,) array with `num_classes`.
    """
    settings = settings or MeasureSettings()
    ranked = rank_unit(activations, labels, num_classes, split_bottom=splits_bottom(settings))
    return ranked_unit_scores(ranked, unit=unit, settings=settings)


def splits_bottom(settings: MeasureSettings) -> bool:
    """Whether the lowest block may be set aside: yes unless ties are stepped image by image."""
    return settings.conventions.ties == "block"


def ranked_unit_scores(ranked: RankedUnit, *, unit: int, settings: MeasureSettings) -> UnitScores:
    """Every measure of a unit already ranked (by rank_unit or the torch path)."""
    base = UnitScores(unit=unit, n_images=ranked.n_images, precision_k=settings.precision_k)
    if ranked.is_dead:
        return replace(base, is_dead=True)
    return replace(base, **_live_measures(ranked, settings))


def _live_measures(ranked: RankedUnit, settings: MeasureSettings) -> dict:
    """The measures of a unit whose activations are not all equal."""
    conventions = settings.conventions
    is_localist, localist_class, gap = localist(ranked)
    precision, precision_class = precision_top_k(ranked, settings.precision_k, conventions)
    ccmas_value, ccmas_class = ccmas(ranked)
    top_class = int(ranked.labels[0])
    best = max_informedness(ranked, conventions)
    # With one class holding every image there is nothing to tell it from: no recall at a
    # precision (it would be 1 without the unit being localist), as CCMAS and informedness.
    recalls = {
        f"recall_at_{percent}_precision": recall_at_precision(
            ranked, top_class, percent, conventions
        )
        for percent in (100, 95)
        if ranked.class_sizes[top_class] < ranked.n_images
    }
    return {
        **_informedness_fields(best),
        "is_localist": is_localist,
        "localist_class": localist_class,
        "localist_gap": gap,
        "precision": precision,
        "precision_class": precision_class,
        "classes_in_top100": classes_in_top(ranked, settings.top_classes_k, conventions),
        "ccmas": ccmas_value,
        "ccmas_class": ccmas_class,
        "most_active_class": top_class,
        **recalls,
    }


def _informedness_fields(best: Informedness | None) -> dict:
    if best is None:
        return {}
    return {
        "max_informedness": best.value,
        "max_informedness_class": best.klass,
        "max_informedness_threshold": best.threshold,
        "sensitivity": best.sensitivity,
        "specificity": best.specificity,
        "false_alarm_rate": best.false_alarm_rate,
    }
