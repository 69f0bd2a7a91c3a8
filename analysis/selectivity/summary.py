"""Selectivity across a network's layers: the paper's section 3.1, figure 2 and tables 2-3.

Score tables in (one row per unit, SelectivityScore's fields as columns), tables out; no Django.
"""

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

# Figure 2's panels (the paper plots no localist score: it found no localist unit) and the
# measures Table 3 correlates; in the paper's order, with the words its figure uses.
MEASURES = {
    "precision": "precision (top 60)",
    "ccmas": "CCMAS",
    "recall_at_100_precision": "recall at 100% precision",
    "recall_at_95_precision": "recall at 95% precision",
    "max_informedness": "maximum informedness",
    "sensitivity": "hit rate at max. informedness",
    "specificity": "specificity at max. informedness",
    "false_alarm_rate": "false-alarm rate at max. informedness",
    "classes_in_top100": "classes in the top 100",
}
# Counts the paper's text gives: units called detectors by Zhou et al.'s criterion (precision
# above 75%), and units with precision or CCMAS above 0.9 ("in layer fc7, we found 14 units
# with a precision > 0.9, and 1487 units with a CCMAS > 0.9").
THRESHOLD_COUNTS = {
    "precision_over_0.75": ("precision", 0.75),
    "precision_over_0.9": ("precision", 0.9),
    "ccmas_over_0.9": ("ccmas", 0.9),
}
TOP_MEASURES = ("ccmas", "precision")  # Table 2 ranks units by these
STATISTICS = ("mean", "se", "median", "q25", "q75", "min", "max")


def correlation_row(x: np.ndarray, y: np.ndarray) -> dict:
    """Spearman and Pearson correlation of the finite pairs; NaN when fewer than 3 or constant."""
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    row = {"n": int(len(x))}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return row | {
            "spearman": np.nan,
            "spearman_p": np.nan,
            "pearson": np.nan,
            "pearson_p": np.nan,
        }
    spearman, pearson = stats.spearmanr(x, y), stats.pearsonr(x, y)
    return row | {
        "spearman": float(spearman.statistic),
        "spearman_p": float(spearman.pvalue),
        "pearson": float(pearson.statistic),
        "pearson_p": float(pearson.pvalue),
    }


def describe(values: np.ndarray) -> dict:
    """n, mean, its standard error (ddof 1), median, quartiles, min and max of the values that
    are defined (a dead unit has no score); NaN where too few."""
    values = values[np.isfinite(values)]
    if not len(values):
        return {"n": 0} | dict.fromkeys(
            ("mean", "se", "median", "q25", "q75", "min", "max"), np.nan
        )
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    found = (values.mean(), se, median, q25, q75, values.min(), values.max())
    return {"n": len(values)} | dict(zip(STATISTICS, found, strict=True))


def measure_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Figure 2 as numbers: one row per (layer, measure) with `describe`'s columns."""
    return pd.DataFrame(
        [
            {"layer": layer, "measure": measure} | describe(group[measure].to_numpy(float))
            for layer, group in scores.groupby("layer", sort=False)
            for measure in MEASURES
        ]
    )


def layer_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Per layer: units, dead units, localist units and THRESHOLD_COUNTS (strictly above)."""
    rows = []
    for layer, group in scores.groupby("layer", sort=False):
        row = {
            "layer": layer,
            "units": len(group),
            "dead": int(group["is_dead"].astype(bool).sum()),
            "localist": int(group["is_localist"].astype(bool).sum()),
        }
        for name, (measure, threshold) in THRESHOLD_COUNTS.items():
            row[name] = int((group[measure].astype(float) > threshold).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def top_units(scores: pd.DataFrame, top: int, class_name: Callable[[int], str]) -> pd.DataFrame:
    """Table 2: per layer, the `top` units of highest CCMAS and of highest precision (ties: the
    lower unit first), each with both scores and their classes named by `class_name`."""
    rows = []
    for layer, group in scores.groupby("layer", sort=False):
        for measure in TOP_MEASURES:
            ranked = group.dropna(subset=[measure]).sort_values(
                [measure, "unit"], ascending=[False, True], kind="stable"
            )
            for rank, unit in enumerate(ranked.head(top).itertuples(), start=1):
                rows.append(
                    {
                        "layer": layer,
                        "ranked_by": measure,
                        "rank": rank,
                        "unit": unit.unit,
                        "ccmas": unit.ccmas,
                        "ccmas_class": _named(unit.ccmas_class, class_name),
                        "precision": unit.precision,
                        "precision_class": _named(unit.precision_class, class_name),
                        "max_informedness": unit.max_informedness,
                        "false_alarm_rate": unit.false_alarm_rate,
                    }  # fmt: skip
                )
    return pd.DataFrame(rows)


def _named(index, class_name: Callable[[int], str]) -> str:
    """The class's name, or '' for none."""
    return "" if index is None or pd.isna(index) else class_name(int(index))


def measure_correlations(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 3: Spearman and Pearson correlations of every pair of MEASURES, over all the
    layers' units together ('all') and per layer; a unit without a value is left out of the
    pairs that need it."""
    groups = [("all", scores), *scores.groupby("layer", sort=False)]
    return pd.DataFrame(
        [
            {"layer": layer, "measure_a": a, "measure_b": b}
            | correlation_row(group[a].to_numpy(float), group[b].to_numpy(float))
            for layer, group in groups
            for a, b in combinations(MEASURES, 2)
        ]
    )


def correlation_triangle(correlations: pd.DataFrame, layer: str = "all") -> pd.DataFrame:
    """Table 3's layout for one layer (or 'all'): a row per measure but the last, a column per
    measure but the first, the upper triangle holding 'Spearman / Pearson'."""
    names = list(MEASURES)
    cells = pd.DataFrame("", index=names[:-1], columns=names[1:])
    for row in correlations.loc[correlations["layer"] == layer].itertuples():
        cells.loc[row.measure_a, row.measure_b] = (
            "–" if np.isnan(row.spearman) else f"{row.spearman:.2f} / {row.pearson:.2f}"
        )
    return cells.rename_axis("measure").reset_index()
