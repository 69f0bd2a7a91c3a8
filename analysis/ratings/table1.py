"""The paper's Table 1, (a)-(e) per network and layer, with standard errors (docs/analysis.md).

Every estimator takes response weights w (R,): ones for the estimate itself, and participant
multiplicities for the bootstrap over participants (a participant drawn twice counts twice,
but a response is never paired with its own copy).
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.ratings.agreement import AgreementArrays

MEASURES = ("a", "b", "c", "d", "e")
COLUMNS = ["network", "layer", "responses", "units", "a", "a_se", "b", "b_se"] + [
    f"{m}{suffix}" for m in "cde" for suffix in ("", "_se", "_units")
]


@dataclass(frozen=True)
class Table1Settings:
    yes_threshold: float = 0.8  # (b): a unit is consistently interpretable at >= 80% 'yes'
    bootstrap: int = 0  # replicates of the bootstrap over participants; 0 = analytical SEs
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.yes_threshold <= 1:
            raise ValueError(f"the yes threshold must be in (0, 1], not {self.yes_threshold}")
        if self.bootstrap < 0 or self.bootstrap == 1:
            raise ValueError(
                f"bootstrap replicates must be 0 (none) or at least 2 (a standard error needs "
                f"two), not {self.bootstrap}"
            )
        if self.seed < 0:
            raise ValueError(f"the bootstrap seed must be 0 or more, not {self.seed}")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    out = np.full(len(denominator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def unit_values(arrays: AgreementArrays, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per-unit n, yes-rate and agreement fractions (c_u, d_u, e_u), each (U,)."""
    n_units = arrays.n_units
    n = np.bincount(arrays.unit, weights, n_units)
    pair_w = weights[arrays.pair_first] * weights[arrays.pair_second]
    values = {
        "n": n,
        "yes_rate": _ratio(np.bincount(arrays.unit, weights * arrays.yes, n_units), n),
        "c": _ratio(
            np.bincount(arrays.pair_unit, pair_w * arrays.pair_agree, n_units),
            np.bincount(arrays.pair_unit, pair_w, n_units),
        ),
    }
    for name, agree in (("d", arrays.agree_most_active), ("e", arrays.agree_ccmas)):
        known = ~np.isnan(agree)
        w = np.where(known, weights, 0.0)
        values[name] = _ratio(
            np.bincount(arrays.unit, w * np.nan_to_num(agree), n_units),
            np.bincount(arrays.unit, w, n_units),
        )
    return values


def consistently_interpretable(yes_rate, threshold: float):
    """Which units belong to (b): a share of 'yes' of at least `threshold` (inclusive, as the
    table's ">= 80%"; a hair below counts, so 4/5 is in at 0.8 despite rounding)."""
    return yes_rate >= threshold - 1e-12


def layer_estimates(arrays, weights, threshold) -> tuple[np.ndarray, np.ndarray, dict]:
    """(G, 5) fractions (a)-(e) per layer group, (G, 5) counts behind them, per-unit values."""
    values = unit_values(arrays, weights)
    rated = values["n"] > 0
    interpretable = rated & consistently_interpretable(values["yes_rate"], threshold)
    yes_total = np.bincount(arrays.unit, weights * arrays.yes, arrays.n_units)
    groups = len(arrays.layers)
    estimates, counts = np.full((groups, 5), np.nan), np.zeros((groups, 5))
    for g in range(groups):
        in_layer = arrays.unit_layer == g
        rated_g, chosen = rated & in_layer, interpretable & in_layer
        counts[g, :2] = values["n"][rated_g].sum(), rated_g.sum()
        if counts[g, 0] > 0:
            estimates[g, 0] = yes_total[rated_g].sum() / counts[g, 0]
            estimates[g, 1] = chosen.sum() / rated_g.sum()
        for k, name in enumerate(("c", "d", "e"), start=2):
            unit_fractions = values[name][chosen]
            unit_fractions = unit_fractions[~np.isnan(unit_fractions)]
            counts[g, k] = len(unit_fractions)
            if len(unit_fractions):
                estimates[g, k] = unit_fractions.mean()
    return estimates, counts, values


def analytical_se(arrays, weights, threshold, estimates, counts, values) -> np.ndarray:
    """Binomial SEs for (a) over responses and (b) over units; SE of the unit mean for (c)-(e)."""
    se = np.full_like(estimates, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        se[:, :2] = np.sqrt(estimates[:, :2] * (1 - estimates[:, :2]) / counts[:, :2])
    interpretable = (values["n"] > 0) & consistently_interpretable(values["yes_rate"], threshold)
    for g in range(len(arrays.layers)):
        chosen = interpretable & (arrays.unit_layer == g)
        for k, name in enumerate(("c", "d", "e"), start=2):
            fractions = values[name][chosen]
            fractions = fractions[~np.isnan(fractions)]
            if len(fractions) > 1:
                se[g, k] = fractions.std(ddof=1) / np.sqrt(len(fractions))
    return se


def bootstrap_se(arrays, threshold, replicates, seed) -> np.ndarray:
    """SD over `replicates` resamplings of participants with replacement, (G, 5)."""
    rng = np.random.default_rng(seed)
    n_participants = len(arrays.participants)
    draws = np.empty((replicates, len(arrays.layers), 5))
    for b in range(replicates):
        chosen = rng.integers(0, n_participants, n_participants)
        multiplicity = np.bincount(chosen, minlength=n_participants).astype(float)
        draws[b] = layer_estimates(arrays, multiplicity[arrays.participant], threshold)[0]
    if replicates < 2:
        return np.full(draws.shape[1:], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a layer with no value in a replicate
        return np.nanstd(draws, axis=0, ddof=1)


def table1(arrays: AgreementArrays, settings: Table1Settings) -> tuple[pd.DataFrame, dict]:
    """Table 1 in percent, one row per (network, layer), and the per-unit values behind it."""
    weights = np.ones(len(arrays.unit))
    estimates, counts, values = layer_estimates(arrays, weights, settings.yes_threshold)
    if settings.bootstrap:
        se = bootstrap_se(arrays, settings.yes_threshold, settings.bootstrap, settings.seed)
    else:
        se = analytical_se(arrays, weights, settings.yes_threshold, estimates, counts, values)
    rows = []
    for g, (network, layer) in enumerate(arrays.layers):
        row = {"network": network, "layer": layer, "responses": int(counts[g, 0])}
        row["units"] = int(counts[g, 1])
        for k, name in enumerate(MEASURES):
            row[name], row[f"{name}_se"] = 100 * estimates[g, k], 100 * se[g, k]
            if k >= 2:
                row[f"{name}_units"] = int(counts[g, k])
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS), values
