"""Scores of every unit of an activation file, read a block of units at a time.

Peak memory is one block of units (N x block floats) plus a few N-long arrays per worker, so it
does not grow with the number of units. numpy's sorts release the GIL, so worker threads run
units of a block in parallel.
"""

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from analysis.selectivity.activations import CHUNK_UNITS, ActivationFile, ActivationFileError
from analysis.selectivity.measures import MeasureSettings, UnitScores, unit_scores


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def block_scores(
    block: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    first_unit: int,
    settings: MeasureSettings,
    pool: ThreadPoolExecutor,
) -> list[UnitScores]:
    """Scores of the units in a block (N, b) whose first unit is `first_unit`."""
    columns = np.ascontiguousarray(block.T)  # (b, N): each unit contiguous for its sort

    def score(index: int) -> UnitScores:
        return unit_scores(
            columns[index],
            labels,
            num_classes=num_classes,
            unit=first_unit + index,
            settings=settings,
        )

    return list(pool.map(score, range(columns.shape[0])))


def layer_scores(
    source: ActivationFile,
    layer: str,
    settings: MeasureSettings,
    *,
    block_units: int = CHUNK_UNITS,
    units: int | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[UnitScores]:
    """Scores of every unit of `layer` (or its first `units`); `progress(n)` after each block."""
    scores: list[UnitScores] = []
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        for start, block in source.unit_blocks(layer, block_units, units):
            scores += block_scores(
                block,
                source.labels,
                num_classes=source.num_classes,
                first_unit=start,
                settings=settings,
                pool=pool,
            )
            if progress is not None:
                progress(block.shape[1])
    return scores


def check_layers(source: ActivationFile, layers: Sequence[str]) -> None:
    """Fail before any work when a requested layer is not in the file."""
    missing = [layer for layer in layers if layer not in source.layer_names()]
    if missing:
        known = ", ".join(source.layer_names()) or "none"
        raise ActivationFileError(
            f"Layer(s) {', '.join(missing)} not in {source.path}; layers there: {known}."
        )
    for layer in layers:
        source.n_units(layer)  # checks the shape against the labels
