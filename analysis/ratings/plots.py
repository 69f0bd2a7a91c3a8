"""Figures of the ratings report, as PNG bytes (matplotlib's Agg backend, no display)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.ratings.correlations import (  # noqa: E402
    INTERPRETABILITY,
    within_layer_correlation,
)
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


def scatter_labels(unit_table: pd.DataFrame, measure: str, what: str) -> tuple[dict, str]:
    """One scatter panel's texts: a legend label per (network, layer) with that layer's
    Spearman rho and n, and a title with the layer-adjusted rho (within layers) above the
    rho pooled across layers, which layer confounds (analysis.ratings.correlations)."""
    by_layer = unit_table.groupby(["network", "layer"], sort=False)
    labels = {}
    for (network, layer), group in by_layer:
        rho = correlation_row(group[measure].to_numpy(float), group[what].to_numpy(float))
        labels[network, layer] = (
            f"{network} {layer}: ρ = {_coefficient(rho['spearman'])} (n = {rho['n']})"
        )
    x, y = unit_table[measure].to_numpy(float), unit_table[what].to_numpy(float)
    within = within_layer_correlation(x, y, by_layer.ngroup().to_numpy())
    pooled = correlation_row(x, y)
    title = (
        f"within layers ρ = {_coefficient(within['spearman'])} (n = {within['n']})\n"
        f"pooled across layers ρ = {_coefficient(pooled['spearman'])} (confounded by layer)"
    )
    return labels, title


def _coefficient(value: float) -> str:
    """A coefficient to two decimals, '–' when undefined."""
    return "–" if np.isnan(value) else f"{value:.2f}"


def scatter_figure(unit_table: pd.DataFrame, measure: str) -> bytes:
    """Per-unit yes-rate, human agreement and agreement with the most-active class against one
    selectivity measure, a colour per layer; each layer's Spearman rho in the legend."""
    figure, axes = plt.subplots(1, len(INTERPRETABILITY), figsize=(15, 4.2), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, what in zip(axes, INTERPRETABILITY, strict=True):
        labels, title = scatter_labels(unit_table, measure, what)
        for i, ((network, layer), group) in enumerate(
            unit_table.groupby(["network", "layer"], sort=False)
        ):
            axis.scatter(
                group[measure], group[what], s=8, alpha=0.6, color=colours[i % len(colours)],
                label=labels[network, layer],
            )  # fmt: skip
        axis.set_title(title, fontsize="small")
        axis.set_xlabel(measure)
        axis.set_ylabel(f"{what.replace('_', ' ')} (%)")
        if len(unit_table):
            axis.legend(
                fontsize="x-small", title="Spearman ρ per layer", title_fontsize="x-small",
                loc="upper center", bbox_to_anchor=(0.5, -0.16),
            )  # fmt: skip
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
