"""The paper's figure 3 for any unit (jitterplot with thresholds, the class's histogram) and its
figure 2 for a network's layers (every measure's distribution per layer)."""

import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.selectivity.informedness import informedness_by_class  # noqa: E402
from analysis.selectivity.ranking import rank_unit  # noqa: E402
from analysis.selectivity.summary import describe  # noqa: E402
from experiment.files import replaced_whole  # noqa: E402


@dataclass(frozen=True)
class UnitFigure:
    """What figure 3 shows of one unit."""

    title: str
    activations: np.ndarray  # (N,)
    in_class: np.ndarray  # (N,) bool, images of the highlighted class
    class_name: str
    informedness_threshold: float  # the highlighted class's max-informedness threshold
    top_k_threshold: float  # activation of the k-th most active image
    top_k: int
    is_dead: bool = False  # every activation equal: no class, no thresholds (docs/measures.md)


def unit_figure(
    activations: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    class_names: list[str],
    title: str,
    top_k: int = 60,
) -> UnitFigure:
    """Figure data for a unit (N,) whose highlighted class is that of its most active image;
    a dead unit (every activation equal) highlights none and has no thresholds."""
    ranked = rank_unit(activations, labels, num_classes)
    if ranked.is_dead:
        value = float(ranked.activations[0])
        return UnitFigure(
            title=f"{title}: dead (every activation {value:g})",
            activations=np.asarray(activations, dtype=np.float32),
            in_class=np.zeros(len(activations), dtype=bool),
            class_name="",
            informedness_threshold=float("nan"),
            top_k_threshold=float("nan"),
            top_k=top_k,
            is_dead=True,
        )
    klass = int(ranked.labels[0])
    best = informedness_by_class(ranked, classes=[klass]).get(klass)
    name = class_names[klass] if klass < len(class_names) else f"class {klass}"
    return UnitFigure(
        title=title,
        activations=np.asarray(activations, dtype=np.float32),
        in_class=np.asarray(labels) == klass,
        class_name=name,
        informedness_threshold=best.threshold if best else float("nan"),
        top_k_threshold=float(ranked.activations[min(top_k, ranked.n_images) - 1]),
        top_k=top_k,
    )


def draw_unit_figure(figure: UnitFigure, out: Path, *, seed: int = 0) -> Path:
    """Write the jitterplot, the class's histogram and that of all images as a PNG."""
    fig, (jitter, histogram, everything) = plt.subplots(
        1, 3, figsize=(14, 4.5), width_ratios=(3, 2, 1.5)
    )
    _jitterplot(jitter, figure, np.random.default_rng(seed))
    _histogram(histogram, figure)
    everything.hist(figure.activations, bins=50, color="0.5", log=True)
    everything.set(xlabel="activation", title="all images (log count)")
    fig.suptitle(figure.title)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    try:
        with replaced_whole(Path(out), binary=True) as stream:  # an earlier figure kept on failure
            fig.savefig(stream, format="png", dpi=120)
    finally:
        plt.close(fig)
    return Path(out)


def _jitterplot(axes, figure: UnitFigure, rng: np.random.Generator) -> None:
    values, inside = figure.activations, figure.in_class
    jitter = rng.uniform(0, 1, values.shape[0])
    axes.scatter(
        values[~inside],
        jitter[~inside],
        s=6,
        c="0.6",
        marker="o",
        label="other classes",
        rasterized=True,
        linewidths=0,
    )
    if figure.is_dead:
        axes.set(xlabel="activation", yticks=[], title="jitterplot (dead unit: no class)")
        return
    axes.scatter(
        values[inside],
        jitter[inside],
        s=14,
        c="black",
        marker="D",
        label=figure.class_name,
        rasterized=True,
        linewidths=0,
    )
    axes.axvline(figure.informedness_threshold, color="white", linestyle="--", linewidth=1.5)
    axes.axvline(
        figure.informedness_threshold,
        color="black",
        linestyle=":",
        linewidth=1,
        label="max-informedness threshold",
    )
    axes.axvline(
        figure.top_k_threshold,
        color="tab:blue",
        linewidth=1.5,
        label=f"top-{figure.top_k} threshold",
    )
    axes.set(xlabel="activation", yticks=[], title="jitterplot")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=8)


def _histogram(axes, figure: UnitFigure) -> None:
    if figure.is_dead:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "dead unit:\nno class to show", ha="center", va="center")
        return
    values = figure.activations[figure.in_class]
    axes.hist(values, bins=30, color="black")
    axes.set(xlabel="activation", ylabel="images", title=f"{figure.class_name} ({len(values)})")


def measures_figure(scores: pd.DataFrame, measures: dict[str, str], title: str) -> bytes:
    """The paper's figure 2 as PNG bytes: a panel per measure, a box per layer (median line,
    quartile box, whiskers to the furthest values within 1.5 box lengths, crosses beyond; under
    each layer's name, its units with a value) and the layers' means with their standard errors
    (green, joined by a dashed line)."""
    layers = list(dict.fromkeys(scores["layer"]))
    columns = 3
    rows = -(-len(measures) // columns)
    figure = Figure(figsize=(4 * columns, 3.2 * rows), layout="constrained")
    for axes, (measure, label) in zip(
        figure.subplots(rows, columns, squeeze=False).flat, measures.items(), strict=False
    ):
        values = [scores.loc[scores["layer"] == layer, measure].dropna() for layer in layers]
        ticks = [f"{layer}\n({len(v)})" for layer, v in zip(layers, values, strict=True)]
        axes.boxplot(
            values, tick_labels=ticks, medianprops={"color": "red"},
            flierprops={"marker": "+", "markeredgecolor": "red", "markersize": 4},
        )  # fmt: skip
        stats = [describe(v.to_numpy(float)) for v in values]
        axes.errorbar(
            range(1, len(layers) + 1), [s["mean"] for s in stats], [s["se"] for s in stats],
            color="green", marker="o", linestyle="--", markersize=4, capsize=3,
        )  # fmt: skip
        axes.set_title(label, fontsize=10)
    for axes in figure.axes[len(measures) :]:
        axes.set_visible(False)
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
