"""Scores of every unit of an activation file, read a block of units at a time.

Peak memory is one block of units (N x block floats, plus its transpose) and a few N-long
arrays per worker, so it does not grow with the number of units. numpy's and torch's sorts
release the GIL, so worker threads score the units of a block in parallel.
"""

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from analysis.selectivity.activations import CHUNK_UNITS, ActivationFile, ActivationFileError
from analysis.selectivity.measures import (
    MeasureSettings,
    UnitScores,
    ranked_unit_scores,
    splits_bottom,
)
from analysis.selectivity.ranking import ClassLabels, rank_unit

UnitScorer = Callable[[np.ndarray, int], UnitScores]


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def unit_scorer(
    labels: np.ndarray, num_classes: int, settings: MeasureSettings, device: str | None = None
) -> UnitScorer:
    """A function (activations (N,), unit) -> UnitScores with the labels prepared once.

    `device` ("cuda", "cpu", ...) ranks units with torch there; None uses numpy.
    """
    prepared = ClassLabels.prepare(labels, num_classes)
    split = splits_bottom(settings)
    if device is None:

        def rank(values):
            return rank_unit(values, prepared, split_bottom=split)
    else:
        from analysis.selectivity.torch_ranking import DeviceLabels, rank_unit_torch

        on_device = DeviceLabels(prepared, device)

        def rank(values):
            return rank_unit_torch(values, on_device, split_bottom=split)

    return lambda values, unit: ranked_unit_scores(rank(values), unit=unit, settings=settings)


def block_scores(
    block: np.ndarray, first_unit: int, score: UnitScorer, pool: ThreadPoolExecutor
) -> list[UnitScores]:
    """Scores of the units in a block (N, b) whose first unit is `first_unit`."""
    columns = np.ascontiguousarray(block.T)  # (b, N): each unit contiguous for its sort
    units = range(first_unit, first_unit + columns.shape[0])
    return list(pool.map(score, columns, units))


def layer_scores(
    source: ActivationFile,
    layer: str,
    settings: MeasureSettings,
    *,
    block_units: int = CHUNK_UNITS,
    units: int | None = None,
    workers: int | None = None,
    device: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[UnitScores]:
    """Scores of every unit of `layer` (or its first `units`); `progress(n)` after each block."""
    score = unit_scorer(source.labels, source.num_classes, settings, device)
    scores: list[UnitScores] = []
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        for start, block in source.unit_blocks(layer, block_units, units):
            scores += block_scores(block, start, score, pool)
            if progress is not None:
                progress(block.shape[1])
    return scores


def check_layers(source: ActivationFile, layers: Sequence[str]) -> None:
    """Fail before any work when a requested layer is not in the file or has no units, or
    there is no layer at all: scores of nothing would replace an earlier CSV."""
    if not layers:
        raise ActivationFileError(
            f"No layers in {source.path}: its /layers group is empty, so there is nothing to score."
        )
    missing = [layer for layer in layers if layer not in source.layer_names()]
    if missing:
        known = ", ".join(source.layer_names()) or "none"
        raise ActivationFileError(
            f"Layer(s) {', '.join(missing)} not in {source.path}; layers there: {known}."
        )
    empty = [layer for layer in layers if source.n_units(layer) == 0]  # shapes checked too
    if empty:
        raise ActivationFileError(
            f"No units in layer(s) {', '.join(empty)} of {source.path}: there is nothing to score."
        )
