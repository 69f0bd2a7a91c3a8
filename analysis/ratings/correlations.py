"""Interpretability against selectivity: correlations per measure, and the selectivity of the
units people found interpretable against the rest (paper section 3.2: "the interpretability of
images does not imply a high level of selectivity given the signal-detection results")."""

import numpy as np
import pandas as pd
from scipy import stats

from analysis.ratings.table1 import consistently_interpretable
from analysis.selectivity.summary import MEASURES, correlation_row

INTERPRETABILITY = ("yes_rate", "human_agreement", "agree_most_active")
SELECTIVITY = tuple(MEASURES)  # the measures the selectivity report summarises


def interpretability_correlations(unit_table: pd.DataFrame) -> pd.DataFrame:
    """One row per (network, layer or 'all', interpretability, measure) present in the table."""
    measures = [m for m in SELECTIVITY if m in unit_table and unit_table[m].notna().any()]
    groups = [("all", "all", unit_table)]
    groups += [(n, la, g) for (n, la), g in unit_table.groupby(["network", "layer"], sort=False)]
    rows = [
        {"network": network, "layer": layer, "interpretability": what, "measure": measure}
        | correlation_row(group[what].to_numpy(dtype=float), group[measure].to_numpy(dtype=float))
        for network, layer, group in groups
        for what in INTERPRETABILITY
        for measure in measures
    ]
    return pd.DataFrame(rows)


def correlation_matrix(correlations: pd.DataFrame) -> pd.DataFrame:
    """A row per (layer, interpretability), a column per measure, cells 'Spearman / Pearson'."""
    if correlations.empty:
        return correlations
    cells = correlations.assign(
        cell=[
            "–" if np.isnan(rho) else f"{rho:.2f} / {r:.2f}"
            for rho, r in zip(correlations["spearman"], correlations["pearson"], strict=True)
        ]
    )
    matrix = cells.pivot_table(
        index=["network", "layer", "interpretability"], columns="measure", values="cell",
        aggfunc="first", sort=False,
    )  # fmt: skip
    return matrix.reset_index().rename_axis(columns=None)


def interpretable_against_rest(unit_table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per (network, layer) and measure: the selectivity of the units with a yes-rate of at
    least `threshold` (Table 1's (b); yes_rate in percent, threshold a share) against that of
    the other rated units: n, median and mean of each group, and the two-sided Mann-Whitney U
    test's p-value (NaN when a group has no value)."""
    measures = [m for m in SELECTIVITY if m in unit_table and unit_table[m].notna().any()]
    rows = []
    for (network, layer), group in unit_table.groupby(["network", "layer"], sort=False):
        interpretable = consistently_interpretable(group["yes_rate"] / 100, threshold)
        for measure in measures:
            inside = group.loc[interpretable, measure].dropna().to_numpy(float)
            rest = group.loc[~interpretable, measure].dropna().to_numpy(float)
            p = stats.mannwhitneyu(inside, rest).pvalue if len(inside) and len(rest) else np.nan
            rows.append(
                {"network": network, "layer": layer, "measure": measure}
                | _group_stats("interpretable", inside) | _group_stats("rest", rest)
                | {"mannwhitney_p": float(p)}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _group_stats(name: str, values: np.ndarray) -> dict:
    """n, median and mean of one group's values, prefixed by its name."""
    median, mean = (np.median(values), values.mean()) if len(values) else (np.nan, np.nan)
    return {f"{name}_n": len(values), f"{name}_median": median, f"{name}_mean": mean}
