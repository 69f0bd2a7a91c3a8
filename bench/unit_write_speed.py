"""How fast are finished units written (100 PNG pictures, the full panel, the web JPEG, JSON)?

Writing is CPU work beside the GPU's sampling: at the H200's 124 images/s the sampler finishes
a unit of 100 pictures every 0.8 s, so writing must keep up or it sets the pace of a run.
Pictures here are 227x227 crops of scikit-learn's two sample photographs (natural-looking
content; AM pictures compress about as well), written by `outputs.unit_write` at each PNG
compression level, by one thread and by as many threads as `pipeline.WRITERS` (the writer
threads of `panels_generate` work the same way).

Then the flush before a unit's rename on its own, for a unit's files as written (`--folder`,
the disk where units go): each file and folder flushed one after another, against all at once
by `outputs._FLUSHERS` (what `unit_write` does). `--flush-only` times only that, with noise
for pictures (what a flush costs depends on the bytes, not on what they show) and no
scikit-learn, so it runs on the GPU machine too.

    PYTHONPATH=. python bench/unit_write_speed.py [--units 8] [--levels 1,6] [--folder DIR] \
        [--flush-only] [--json out.json]
"""

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from PIL import Image

from generator.am import grid, outputs, pipeline


def pictures(count: int = 100, size: int = 227) -> torch.Tensor:
    """(count, 3, size, size) crops of the sample photographs, RGB in [0, 1]."""
    from sklearn.datasets import load_sample_images  # not on the GPU machine: --flush-only

    photos, rng = load_sample_images().images, np.random.default_rng(0)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        top = rng.integers(0, photo.shape[0] - size)
        left = rng.integers(0, photo.shape[1] - size)
        crops.append(photo[top : top + size, left : left + size])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def units_write(images: torch.Tensor, count: int, threads: int) -> tuple[float, float]:
    """(seconds per unit, MB per unit) for `count` units written by `threads` threads."""
    with tempfile.TemporaryDirectory() as folder:

        def write(unit: int) -> None:
            result = outputs.UnitResult(
                unit, images, list(range(len(images))), [0.0] * len(images), [1.0] * len(images)
            )
            outputs.unit_write(Path(folder), result, settings={}, quality={}, rows=10, cols=10)

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(write, range(count)))
        seconds = time.perf_counter() - started
        size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    return seconds / count, size / count / 1e6


def flush_speed(images: torch.Tensor, folder: Path, repeats: int) -> dict:
    """Median seconds to flush one written unit's files and folders: one by one, all at once."""
    seconds, level = {"one_by_one": [], "all_at_once": []}, {"compress_level": 1}
    with tempfile.TemporaryDirectory(dir=folder) as root:
        for repeat in range(repeats):
            for way, times in seconds.items():
                unit = Path(root) / f"{way}-{repeat}"
                (unit / "images").mkdir(parents=True)
                for index, image in enumerate(grid.to_uint8(images)):
                    Image.fromarray(image).save(unit / "images" / f"{index:03d}.png", **level)
                panel = grid.tile(images, 10, 10)
                panel.save(unit / "panel.png", **level)
                grid.web_size(panel).save(unit / "panel_web.jpg")
                for name in ("activations.json", "quality.json", "settings.json"):
                    (unit / name).write_text("{}\n")
                paths = [*unit.rglob("*"), unit]
                started = time.perf_counter()
                if way == "one_by_one":
                    for path in paths:
                        outputs._fsync(path)
                else:
                    list(outputs._FLUSHERS.map(outputs._fsync, paths))
                times.append(time.perf_counter() - started)
    return {way: float(np.median(times)) for way, times in seconds.items()} | {"paths": len(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--levels", default="1,6", help="PNG compression levels to compare")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--flush-repeats", type=int, default=5)
    parser.add_argument("--flush-only", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    images = torch.rand(100, 3, 227, 227) if args.flush_only else pictures()
    levels = [] if args.flush_only else [int(value) for value in args.levels.split(",")]
    figures = {"cpu_count": os.cpu_count(), "writers": pipeline.WRITERS, "runs": []}
    for level in levels:
        for threads in sorted({1, pipeline.WRITERS}):
            with mock.patch.object(grid, "PNG_COMPRESS_LEVEL", level):
                per_unit, megabytes = units_write(images, args.units, threads)
            run = {"png_level": level, "threads": threads, "s_per_unit": per_unit, "MB": megabytes}
            figures["runs"].append(run)
            print(
                f"PNG level {level}, {threads} thread(s): {per_unit:.2f} s a unit "
                f"({1 / per_unit:.2f} units/s, {100 / per_unit:.0f} pictures/s), "
                f"{megabytes:.1f} MB a unit"
            )
    flush = flush_speed(images, args.folder, args.flush_repeats)
    figures["flush"] = flush
    print(
        f"Flushing a unit's {flush['paths']} files and folders in {args.folder}: "
        f"{flush['one_by_one'] * 1000:.0f} ms one by one, "
        f"{flush['all_at_once'] * 1000:.0f} ms all at once"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
