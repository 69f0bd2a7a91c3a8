"""Selectivity measures of one unit: arrays in, scores out (paper section 2; docs/measures.md).

Each unit is ranked once (ranking.py); every measure is then one pass over the ranking, so the
work per unit is O(N log N) and informedness is never evaluated over classes x thresholds.
"""

from dataclasses import dataclass, field, fields

import numpy as np

from analysis.selectivity.compat import CORRECT, Conventions
from analysis.selectivity.ranking import ClassLabels, RankedUnit, rank_unit


@dataclass(frozen=True)
class MeasureSettings:
    """Parameters of the measures; saved beside every score set."""

    precision_k: int = 60
    top_classes_k: int = 100
    conventions: Conventions = field(default_factory=lambda: CORRECT)


@dataclass(frozen=True)
class Informedness:
    """The best class and threshold by informedness = sensitivity + specificity - 1."""

    value: float
    klass: int
    threshold: float
    sensitivity: float
    specificity: float
    false_alarm_rate: float


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
    gap = float(ranked.activations[in_class][-1]) - float(ranked.activations[~in_class][0])
    return gap > 0, top_class, gap


def precision_top_k(ranked: RankedUnit, k: int) -> tuple[float, int]:
    """Zhou et al. 2015: largest share of one class among the k most active images, and it.

    Ties at the k-th image are broken by image order; the smallest class index wins a tie.
    """
    top = ranked.labels[: min(k, ranked.n_images)]
    counts = np.bincount(top, minlength=ranked.num_classes)
    klass = int(np.argmax(counts))
    return float(counts[klass]) / top.shape[0], klass


def classes_in_top(ranked: RankedUnit, k: int) -> int:
    """Number of distinct classes among the k most active images."""
    return int(np.unique(ranked.labels[:k]).shape[0])


def ccmas(ranked: RankedUnit) -> tuple[float | None, int]:
    """Morcos et al. 2018: (mu_A - mu_notA) / (mu_A + mu_notA) for the class A of highest mean.

    mu_notA is the mean over all images not in A. Returns (None, A) when undefined: a single
    class, or mu_A + mu_notA == 0 (a dead unit at zero, or activations cancelling out).
    """
    weights = ranked.activations.astype(np.float64)
    sizes = ranked.class_sizes
    sums = np.bincount(ranked.labels, weights=weights, minlength=ranked.num_classes)
    means = np.where(sizes > 0, sums / np.maximum(sizes, 1), -np.inf)
    klass = int(np.argmax(means))
    rest = ranked.n_images - sizes[klass]
    if rest == 0:
        return None, klass
    mu_a, mu_not_a = means[klass], (weights.sum() - sums[klass]) / rest
    if mu_a + mu_not_a == 0:
        return None, klass
    return float((mu_a - mu_not_a) / (mu_a + mu_not_a)), klass


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
    """(N,) informedness (float64) of each position's class at each position's threshold.

    Exact up to rounding at the last image of each class within a block (the only places a
    class's informedness can peak); lower elsewhere. Classes without negatives get -inf.
    J = hits/n - (positives - hits)/m = hits * (1/n + 1/m) - positives / m.
    """
    sizes = ranked.class_sizes.astype(np.float64)
    negatives = ranked.n_images - sizes
    with np.errstate(divide="ignore"):
        per_negative = np.where(negatives > 0, 1.0 / negatives, np.inf)
        hit_weight = 1.0 / np.maximum(sizes, 1) + per_negative
    positives = threshold_positives(ranked, conventions)
    curve = ranked.class_hits * hit_weight[ranked.labels]
    with np.errstate(invalid="ignore"):
        curve -= positives * per_negative[ranked.labels]
    if not np.isfinite(per_negative).all():
        curve[np.isnan(curve)] = -np.inf  # inf - inf: a class holding every image
    return curve


def exact_informedness(
    ranked: RankedUnit, positions: np.ndarray, conventions: Conventions = CORRECT
) -> np.ndarray:
    """Informedness at `positions`, as one division of exact integers (equal ties compare equal)."""
    sizes = ranked.class_sizes[ranked.labels[positions]]
    negatives = ranked.n_images - sizes
    hits = ranked.class_hits[positions]
    false_alarms = threshold_positives(ranked, conventions)[positions] - hits
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (hits * negatives - false_alarms * sizes) / (sizes * negatives)
    return np.where(negatives > 0, values, -np.inf)


def _allowed_classes(ranked: RankedUnit, conventions: Conventions) -> np.ndarray | None:
    """The first classes seen in the top images (gale2020), or None for all classes."""
    if conventions.informedness_classes is None:
        return None
    top = ranked.labels[: conventions.informedness_classes_top]
    _, first_seen = np.unique(top, return_index=True)
    return top[np.sort(first_seen)][: conventions.informedness_classes]


def max_informedness(ranked: RankedUnit, conventions: Conventions = CORRECT) -> Informedness | None:
    """Powers 2003: max over classes and thresholds of sensitivity + specificity - 1.

    Ties go to the highest threshold, then to the smallest class index. None when no class
    has both members and non-members.
    """
    curve = informedness_curve(ranked, conventions)
    allowed = _allowed_classes(ranked, conventions)
    if allowed is not None:
        curve[~np.isin(ranked.labels, allowed)] = -np.inf
    top = curve.max()
    if not np.isfinite(top):
        return None
    near = np.flatnonzero(curve >= top - 1e-9)  # rounding aside, the maxima are among these
    exact = exact_informedness(ranked, near, conventions)
    best = near[exact == exact.max()]
    if conventions.ties == "image":
        return _informedness_at(ranked, int(best[0]), conventions)
    same_threshold = best[ranked.activations[best] == ranked.activations[best[0]]]
    position = same_threshold[np.argmin(ranked.labels[same_threshold])]
    return _informedness_at(ranked, int(position), conventions)


def informedness_by_class(
    ranked: RankedUnit, conventions: Conventions = CORRECT, classes=None
) -> dict[int, Informedness]:
    """Max informedness of `classes` (default: every class with members and non-members).

    O(C x N) over all classes: for reports and tests, not the bulk path.
    """
    sizes = ranked.class_sizes
    candidates = np.flatnonzero((sizes > 0) & (sizes < ranked.n_images))
    best = {}
    for klass in candidates if classes is None else np.intersect1d(candidates, classes):
        positions = np.flatnonzero(ranked.labels == klass)
        values = exact_informedness(ranked, positions, conventions)
        best[int(klass)] = _informedness_at(ranked, int(positions[np.argmax(values)]), conventions)
    return best


def _informedness_at(ranked: RankedUnit, position: int, conventions: Conventions) -> Informedness:
    """Sensitivity, specificity and false alarms of the position's class at its threshold."""
    klass = int(ranked.labels[position])
    above = int(threshold_positives(ranked, conventions)[position])
    hits = int(np.count_nonzero(ranked.labels[:above] == klass))
    size = int(ranked.class_sizes[klass])
    negatives = ranked.n_images - size
    false_alarms = above - hits
    alarm_base = ranked.n_images if conventions.false_alarms_over_all_images else negatives
    threshold = above if conventions.threshold_as_rank else float(ranked.activations[position])
    return Informedness(
        value=(hits * negatives - false_alarms * size) / (size * negatives),
        klass=klass,
        threshold=float(threshold),
        sensitivity=hits / size,
        specificity=(negatives - false_alarms) / negatives,
        false_alarm_rate=false_alarms / alarm_base,
    )


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
    ranked = rank_unit(activations, labels, num_classes)
    base = UnitScores(unit=unit, n_images=ranked.n_images, precision_k=settings.precision_k)
    if ranked.is_dead:
        return _replace(base, is_dead=True)
    return _replace(base, **_live_measures(ranked, settings))


def _live_measures(ranked: RankedUnit, settings: MeasureSettings) -> dict:
    """The measures of a unit whose activations are not all equal."""
    conventions = settings.conventions
    is_localist, localist_class, gap = localist(ranked)
    precision, precision_class = precision_top_k(ranked, settings.precision_k)
    ccmas_value, ccmas_class = ccmas(ranked)
    top_class = int(ranked.labels[0])
    best = max_informedness(ranked, conventions)
    return {
        **_informedness_fields(best),
        "is_localist": is_localist,
        "localist_class": localist_class,
        "localist_gap": gap,
        "precision": precision,
        "precision_class": precision_class,
        "classes_in_top100": classes_in_top(ranked, settings.top_classes_k),
        "ccmas": ccmas_value,
        "ccmas_class": ccmas_class,
        "most_active_class": top_class,
        "recall_at_100_precision": recall_at_precision(ranked, top_class, 100, conventions),
        "recall_at_95_precision": recall_at_precision(ranked, top_class, 95, conventions),
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


def _replace(scores: UnitScores, **changes) -> UnitScores:
    return UnitScores(**{**scores.__dict__, **changes})
