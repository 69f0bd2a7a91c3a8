"""Interpretability against selectivity: correlations per measure, and the selectivity of the
units people found interpretable against the rest (paper section 3.2: "the interpretability of
images does not imply a high level of selectivity given the signal-detection results").

The correlations are read per layer. Pooled across layers they are confounded by layer: fc8's
units are rated interpretable far more often and score near-maximal precision (and CCMAS on
logits, beyond 1), so pooling them with conv5 and fc6 gives a strong positive rho even where no
layer shows any relation. The layer-adjusted summary (`within_layer_correlation`) pools only
the relation inside each layer.
"""

import numpy as np
import pandas as pd
from scipy import stats

from analysis.ratings.table1 import consistently_interpretable
from analysis.selectivity.summary import MEASURES, correlation_row

INTERPRETABILITY = ("yes_rate", "human_agreement", "agree_most_active")
SELECTIVITY = tuple(MEASURES)  # the measures the selectivity report summarises
# The `scope` of a correlations row, and the `layer` of the two rows over all layers.
PER_LAYER, WITHIN_LAYERS, POOLED = "per layer", "layer-adjusted", "pooled across layers"
WITHIN_LAYERS_LAYER, POOLED_LAYER = "within layers", "all"


def interpretability_correlations(unit_table: pd.DataFrame) -> pd.DataFrame:
    """Per (interpretability, measure) present in the table: a row per (network, layer) first
    (scope 'per layer'), then the layer-adjusted row (network 'all', layer 'within layers':
    `within_layer_correlation`) and the row pooled across layers (network and layer 'all'),
    which layer confounds. `layers`: how many layers entered the row."""
    measures = [m for m in SELECTIVITY if m in unit_table and unit_table[m].notna().any()]
    by_layer = unit_table.groupby(["network", "layer"], sort=False)
    layer_of = by_layer.ngroup().to_numpy()
    rows = [
        {"network": network, "layer": layer, "interpretability": what, "measure": measure}
        | correlation_row(group[what].to_numpy(dtype=float), group[measure].to_numpy(dtype=float))
        | {"scope": PER_LAYER, "layers": 1}
        for (network, layer), group in by_layer
        for what in INTERPRETABILITY
        for measure in measures
    ]
    for what in INTERPRETABILITY:
        for measure in measures:
            x = unit_table[what].to_numpy(dtype=float)
            y = unit_table[measure].to_numpy(dtype=float)
            pair = {"interpretability": what, "measure": measure}
            rows.append(
                {"network": "all", "layer": WITHIN_LAYERS_LAYER} | pair
                | within_layer_correlation(x, y, layer_of) | {"scope": WITHIN_LAYERS}
            )  # fmt: skip
            finite = np.isfinite(x) & np.isfinite(y)
            rows.append(
                {"network": "all", "layer": POOLED_LAYER} | pair | correlation_row(x, y)
                | {"scope": POOLED, "layers": len(np.unique(layer_of[finite]))}
            )  # fmt: skip
    return pd.DataFrame(rows)


def within_layer_correlation(x: np.ndarray, y: np.ndarray, layers: np.ndarray) -> dict:
    """Spearman's rho and Pearson's r within layers, pooled: each layer's ranks (for rho) or
    values (for r) are standardised within the layer (mean 0, population sd 1) and the
    coefficient is the mean product over all units, which is exactly the per-layer coefficients'
    mean weighted by the layers' units, `sum n_g rho_g / sum n_g`. Differences between the
    layers' means or spreads do not enter. The layers that enter are those where the per-layer
    coefficient is defined (at least 3 finite pairs, spread in both); `n` counts their units.
    p-values: the t test of a partial correlation given the layer, `n - layers - 1` degrees of
    freedom (with one layer: exactly scipy's Spearman and Pearson p-values)."""
    finite = np.isfinite(x) & np.isfinite(y)
    x, y, layers = x[finite], y[finite], np.asarray(layers)[finite]
    parts = []
    for layer in pd.unique(layers):
        xs, ys = x[layers == layer], y[layers == layer]
        if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0:
            parts.append((xs, ys))
    n, k = sum(len(xs) for xs, _ in parts), len(parts)
    row = {"n": n}
    for name, transform in (("spearman", stats.rankdata), ("pearson", np.asarray)):
        if not k:
            row |= {name: np.nan, f"{name}_p": np.nan}
            continue
        a = np.concatenate([_standardised(transform(xs)) for xs, _ in parts])
        b = np.concatenate([_standardised(transform(ys)) for _, ys in parts])
        r = float(np.clip(np.mean(a * b), -1.0, 1.0))
        row |= {name: r, f"{name}_p": _partial_p(r, n - k - 1)}
    return row | {"layers": k}


def _standardised(values: np.ndarray) -> np.ndarray:
    """Mean 0, population standard deviation 1 (the values have some spread)."""
    values = np.asarray(values, dtype=float)
    return (values - values.mean()) / values.std()


def _partial_p(r: float, df: int) -> float:
    """Two-sided p-value of a correlation r on df degrees of freedom: t = r sqrt(df / (1 - r²))."""
    if abs(r) == 1.0:
        return 0.0
    t = r * np.sqrt(df / (1.0 - r * r))
    return float(2 * stats.t.sf(abs(t), df))


def correlation_matrix(correlations: pd.DataFrame) -> pd.DataFrame:
    """A row per (layer, interpretability), a column per measure, cells 'Spearman / Pearson';
    the rows in the correlations' order (per layer, layer-adjusted, pooled), with their scope."""
    if correlations.empty:
        return correlations
    cells = correlations.assign(
        cell=[
            "–" if np.isnan(rho) else f"{rho:.2f} / {r:.2f}"
            for rho, r in zip(correlations["spearman"], correlations["pearson"], strict=True)
        ]
    )
    matrix = cells.pivot_table(
        index=["network", "layer", "scope", "interpretability"], columns="measure", values="cell",
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
