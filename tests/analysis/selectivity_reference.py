"""Slow, obviously correct reference implementations of every selectivity measure.

Each follows the definition in docs/measures.md literally, with exact fractions, so the fast
implementation can be checked against it on small random units.
"""

from collections import Counter
from fractions import Fraction


def ranking(activations, labels):
    """Image indices by activation descending, ties in image order."""
    return sorted(range(len(activations)), key=lambda i: (-activations[i], i))


def thresholds(activations, labels, ties):
    """(threshold label, set of images above) for every threshold of the given tie rule."""
    order = ranking(activations, labels)
    if ties == "image":
        return [(rank + 1, set(order[: rank + 1])) for rank in range(len(order))]
    values = sorted(set(activations), reverse=True)
    return [(t, {i for i, a in enumerate(activations) if a >= t}) for t in values]


def informedness_table(activations, labels, ties="block", alarms_over_all=False):
    """Every (informedness, -threshold rank, class, sens, spec, far, threshold) candidate."""
    n = len(labels)
    rows = []
    for rank, (threshold, above) in enumerate(thresholds(activations, labels, ties)):
        for klass in sorted(set(labels)):
            size = sum(1 for y in labels if y == klass)
            if size == n:
                continue
            hits = sum(1 for i in above if labels[i] == klass)
            alarms = len(above) - hits
            base = n if alarms_over_all else n - size  # what false alarms are divided by
            sens, far = Fraction(hits, size), Fraction(alarms, base)
            spec = 1 - far
            rows.append((sens + spec - 1, -rank, -klass, sens, spec, far, threshold, klass))
    return rows


def max_informedness(activations, labels, ties="block", alarms_over_all=False, classes=None):
    """Best row: highest informedness, then highest threshold, then smallest class."""
    rows = informedness_table(activations, labels, ties, alarms_over_all)
    if classes is not None:
        rows = [row for row in rows if row[7] in classes]
    return max(rows) if rows else None


def localist(activations, labels):
    top_class = labels[ranking(activations, labels)[0]]
    inside = [a for a, y in zip(activations, labels, strict=True) if y == top_class]
    outside = [a for a, y in zip(activations, labels, strict=True) if y != top_class]
    if not outside:
        return False, None, None
    gap = min(inside) - max(outside)
    return gap > 0, top_class, gap


def top_above_lowest(activations, labels, k):
    """Classes of the k first-ranked images, leaving out those at the lowest activation."""
    lowest = min(activations)
    return [labels[i] for i in ranking(activations, labels)[:k] if activations[i] > lowest]


def precision(activations, labels, k):
    counts = Counter(top_above_lowest(activations, labels, k))
    best = max(counts.values())
    klass = min(c for c, count in counts.items() if count == best)
    return Fraction(best, min(k, len(labels))), klass


def classes_in_top(activations, labels, k):
    return len(set(top_above_lowest(activations, labels, k)))


def precision_gale2020(activations, labels, k):
    """The published code's: the k first-ranked images, the lowest ones too, and on a tie the
    class its Counter meets first, reading them from the k-th up."""
    top = [labels[i] for i in ranking(activations, labels)[:k]]
    counts = Counter(top)
    best = max(counts.values())
    klass = next(c for c in reversed(top) if counts[c] == best)
    return Fraction(best, min(k, len(labels))), klass


def classes_in_top_gale2020(activations, labels, k):
    return len({labels[i] for i in ranking(activations, labels)[:k]})


def ccmas(activations, labels):
    means, exact = {}, {}
    for klass in sorted(set(labels)):
        members = [a for a, y in zip(activations, labels, strict=True) if y == klass]
        means[klass] = sum(members) / len(members)
        exact[klass] = sum(map(Fraction, members), Fraction(0)) / len(members)
    klass = max(sorted(exact), key=lambda c: exact[c])  # the class of highest mean, smallest first
    others = [a for a, y in zip(activations, labels, strict=True) if y != klass]
    if not others:
        return None, klass
    mu_a, mu_not_a = means[klass], sum(others) / len(others)
    if mu_a + mu_not_a == 0:
        return None, klass
    return (mu_a - mu_not_a) / (mu_a + mu_not_a), klass


def recall_at_precision(activations, labels, klass, percent, ties="block"):
    size = sum(1 for y in labels if y == klass)
    best = 0
    for _, above in thresholds(activations, labels, ties):
        hits = sum(1 for i in above if labels[i] == klass)
        if Fraction(hits, len(above)) >= Fraction(percent, 100):
            best = max(best, hits)
    return Fraction(best, size)


def most_active_class(activations, labels):
    return labels[ranking(activations, labels)[0]]
