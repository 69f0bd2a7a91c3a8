"""Interpretability against selectivity: Spearman and Pearson per measure (paper section 6.1)."""

import numpy as np
import pandas as pd
from scipy import stats

INTERPRETABILITY = ("yes_rate", "human_agreement", "agree_most_active")
SELECTIVITY = (
    "precision",
    "ccmas",
    "recall_at_95_precision",
    "recall_at_100_precision",
    "max_informedness",
    "classes_in_top100",
)


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
    """The paper's section 6.1 layout: a row per (layer, interpretability), a column per measure,
    cells 'Spearman / Pearson'."""
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
