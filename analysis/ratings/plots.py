"""Figures of the ratings report, as PNG bytes (matplotlib's Agg backend, no display)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.ratings.correlations import INTERPRETABILITY  # noqa: E402
from analysis.selectivity.summary import correlation_row  # noqa: E402


def _png(figure) -> bytes:
    """Render and close a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def table1_figure(table: pd.DataFrame) -> bytes:
    """Bars of (a)-(e) per layer with their standard errors."""
    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(table), 1)
    for i, row in enumerate(table.itertuples()):
        values = [getattr(row, m) for m in "abcde"]
        errors = [getattr(row, f"{m}_se") for m in "abcde"]
        axis.bar(
            np.arange(5) + i * width, values, width, yerr=errors, label=f"{row.network} {row.layer}"
        )
    axis.set_xticks(
        np.arange(5) + 0.4 - width / 2,
        ["(a) yes", "(b) >=80%", "(c) humans", "(d) most active", "(e) CCMAS"],
    )
    axis.set_ylabel("%")
    if len(table):
        axis.legend(fontsize="small")
    return _png(figure)


def scatter_figure(unit_table: pd.DataFrame, measure: str) -> bytes:
    """Per-unit yes-rate and human agreement against one selectivity measure, by layer."""
    figure, axes = plt.subplots(1, len(INTERPRETABILITY), figsize=(13, 3.8), sharex=True)
    for axis, what in zip(axes, INTERPRETABILITY, strict=True):
        for (network, layer), group in unit_table.groupby(["network", "layer"], sort=False):
            axis.scatter(group[measure], group[what], s=8, alpha=0.6, label=f"{network} {layer}")
        rho = correlation_row(unit_table[measure].to_numpy(float), unit_table[what].to_numpy(float))
        axis.set_title(f"Spearman ρ = {rho.get('spearman', np.nan):.2f} (n = {rho['n']})")
        axis.set_xlabel(measure)
        axis.set_ylabel(f"{what.replace('_', ' ')} (%)")
    if len(unit_table):
        axes[0].legend(fontsize="small")
    return _png(figure)


def calibration_figure(calibration: pd.DataFrame) -> bytes:
    """Observed share of 'yes' against the share predicted in Q2, with the identity line."""
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([0, 100], [0, 100], color="grey", linestyle="--", linewidth=1)
    axis.errorbar(
        calibration["predicted"], calibration["observed"], calibration["observed_se"], marker="o"
    )
    axis.set_xlabel("predicted 'yes' (Q2 bin midpoint, %)")
    axis.set_ylabel("observed 'yes' among the others (%)")
    axis.set_xlim(0, 100)
    axis.set_ylim(0, 100)
    return _png(figure)
