"""Selectivity at paper scale: units/s, extrapolated time, peak RSS, speed-up over roc_curve.

    python bench/selectivity_speed.py make var/bench/acts.h5 --units 256
    python bench/selectivity_speed.py run var/bench/acts.h5 --units 64     # one process per
    python bench/selectivity_speed.py run var/bench/acts.h5 --units 256    # unit count (RSS)
    python bench/selectivity_speed.py baseline var/bench/acts.h5 --units 2

The synthetic file has N = 721,536 images (the paper's correctly classified ImageNet images)
and 1000 classes; units are ReLU-like (about 80% zeros, ties everywhere) with a class preference.
Keep the file out of git (var/ is ignored): 256 units take 740 MB.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.selectivity.activations import ActivationFile, ActivationWriter, RecordingHeader
from analysis.selectivity.measures import MeasureSettings, unit_scores
from analysis.selectivity.pipeline import layer_scores

N_IMAGES, N_CLASSES, PAPER_UNITS = 721_536, 1000, 9_000
ROWS = 16_384


def make(path: Path, units: int, seed: int = 0) -> None:
    """Write a synthetic activation file with the project's writer."""
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, N_CLASSES, N_IMAGES))
    preferred = rng.integers(0, N_CLASSES, units)
    header = RecordingHeader(
        "synthetic",
        {"fc6": ("fc", units)},
        "max",
        N_CLASSES,
        tuple(str(i) for i in range(N_CLASSES)),
        "synthetic",
    )
    writer = ActivationWriter(path, header)
    for start in range(0, N_IMAGES, ROWS):
        y = labels[start : start + ROWS]
        drive = rng.normal(-1.0, 1.0, (len(y), units)) + (y[:, None] == preferred) * 2.0
        values = np.round(np.maximum(drive, 0) * 20, 1).astype(np.float32)  # (rows, units)
        writer.append(
            y,
            y,
            [str(i) for i in range(start, start + len(y))],
            {"fc6": values},
            images_seen=start + len(y),
        )
    writer.close(total=N_IMAGES)


def run(path: Path, units: int, workers: int | None, device: str | None = None) -> None:
    """Time every measure over the first `units` units, read a block at a time."""
    with ActivationFile(path) as source:
        began, cpu_began = time.perf_counter(), time.process_time()
        scores = layer_scores(
            source, "fc6", MeasureSettings(), units=units, workers=workers, device=device
        )
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rate = len(scores) / seconds
    print(
        f"units={len(scores)} seconds={seconds:.1f} units_per_s={rate:.2f} "
        f"paper_scale_min={PAPER_UNITS / rate / 60:.1f} peak_rss_gb={rss_gb:.2f} "
        f"cpu_ms_per_unit={cpu / len(scores) * 1000:.0f} load={os.getloadavg()[0]:.1f}"
    )


def baseline(path: Path, units: int) -> None:
    """Per-class roc_curve (Youden's J) per unit, against the one-sort pass, same units."""
    from sklearn.metrics import roc_curve

    with ActivationFile(path) as source:
        block = source.unit_block("fc6", 0, units)
        labels = source.labels
    slow = fast = 0.0
    for unit in range(units):
        began = time.perf_counter()
        best = max(
            (tpr - fpr).max()
            for fpr, tpr, _ in (roc_curve(labels == c, block[:, unit]) for c in range(N_CLASSES))
        )
        slow += time.perf_counter() - began
        began = time.perf_counter()
        scores = unit_scores(block[:, unit], labels, num_classes=N_CLASSES)
        fast += time.perf_counter() - began
        assert abs(scores.max_informedness - best) < 1e-9, (unit, scores.max_informedness, best)
    print(
        f"units={units} roc_curve_s_per_unit={slow / units:.2f} "
        f"all_measures_s_per_unit={fast / units:.3f} speedup={slow / fast:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["make", "run", "baseline"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--device", default=None, help="torch path, e.g. cuda")
    args = parser.parse_args()
    if args.action == "make":
        make(args.path, args.units)
    elif args.action == "run":
        run(args.path, args.units, args.workers, args.device)
    else:
        baseline(args.path, args.units)


if __name__ == "__main__":
    main()
