"""A whole generate_panels run, end to end: sampling, pictures, writing, quality reports.

`pipeline.panels_generate` on torchvision AlexNet + the full-size DeePSiM fc6 generator with
random weights (speed does not depend on them): `--units` fc8 units of `--images` pictures,
`--iterations` steps, `--batch` chains at a time, into a temporary folder. Reports units/s and
image-iterations/s of the whole run (after one warm-up batch, which autotunes and compiles),
next to the sampler alone on the same batches. The difference is what a run adds to sampling:
the output layer's class predictions, copying pictures off the GPU, and writing what the
writer threads do not hide. It is split into time in the sampler, before and between
batches, and after the last one, with each unit's writing time (wall and CPU, in its writer
thread).

    python bench/panels_speed.py --device cuda --units 40 --batch 1024 --bf16 --channels-last \
        --compile [--json figures.json]
    python bench/panels_speed.py --device cpu --units 2 --images 4 --iterations 2 --batch 8

Django-free: run it with plain python from the repository root (PYTHONPATH=.).
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator_speed import random_ppgn  # noqa: E402
from lucent_baseline import synchronize  # noqa: E402

from generator.am import pipeline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    sampler = random_ppgn(args, device, images_per_unit=args.images)
    config = sampler.config
    units = list(range(args.units))
    batches = list(pipeline.chain_plan(config, units))
    size = min(args.batch, args.units * args.images)
    sampler.run(*pipeline.batch_padded(*batches[0], size))  # warm-up: autotuning, compilation

    synchronize(device)
    started = time.perf_counter()
    for batch in batches:
        sampler.run(*pipeline.batch_padded(*batch, size))
    synchronize(device)
    sampling = time.perf_counter() - started

    timing = _Timing(sampler)
    with tempfile.TemporaryDirectory() as folder, timing:
        rows = _rows(args.images)
        run = pipeline.PanelRun(
            config=_weights_saved(sampler, Path(folder) / "weights"),
            units=units,
            out=Path(folder) / "panels",
            rows=rows,
            cols=args.images // rows,
        )
        started = time.perf_counter()
        pipeline.panels_generate(run, sampler=sampler)
        synchronize(device)
        ended = time.perf_counter()
    whole = ended - started

    image_iterations = args.units * args.images * args.iterations
    figures = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": vars(args) | {"json": None},
        "writers": pipeline.WRITERS,
        "sampling_only_s": sampling,
        "whole_run_s": whole,
        "units_per_s": args.units / whole,
        "image_iterations_per_s": image_iterations / whole,
        "sampling_only_image_iterations_per_s": image_iterations / sampling,
        # where the whole run's time went
        "in_sampler_s": timing.sampling,
        "setup_and_between_batches_s": timing.last_end - started - timing.sampling,
        "after_last_batch_s": ended - timing.last_end,
        "writing_s_per_unit": timing.writing_wall / args.units,
        "writing_cpu_s_per_unit": timing.writing_cpu / args.units,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


class _Timing:
    """Times, during a run, the sampler's batches (queued GPU work included) and each unit's
    writing in its thread (wall and CPU time)."""

    def __init__(self, sampler):
        self.sampler, self.sampling, self.last_end = sampler, 0.0, 0.0
        self.writing_wall = self.writing_cpu = 0.0
        self._lock = threading.Lock()

    def __enter__(self):
        run, finish = self.sampler.run, pipeline._unit_finish
        device = self.sampler.target.device

        def timed_run(*args, **kwargs):
            started = time.perf_counter()
            result = run(*args, **kwargs)
            synchronize(device)
            self.last_end = time.perf_counter()
            self.sampling += self.last_end - started
            return result

        def timed_finish(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            report = finish(*args, **kwargs)
            with self._lock:
                self.writing_wall += time.perf_counter() - wall
                self.writing_cpu += time.thread_time() - cpu
            return report

        self._finish = finish
        self.sampler.run, pipeline._unit_finish = timed_run, timed_finish
        return self

    def __exit__(self, *exc):
        del self.sampler.run  # the instance attribute goes; the class's method shows again
        pipeline._unit_finish = self._finish


def _weights_saved(sampler, folder: Path):
    """The sampler's settings with its random weights saved under `folder`: a run records the
    digests of the files its networks came from (and refuses to start without them)."""
    folder.mkdir()
    target, generator = folder / "alexnet.pth", folder / "deepsim_fc6.pt"
    torch.save(sampler.target.model.state_dict(), target)
    torch.save(sampler.generator.state_dict(), generator)
    return replace(sampler.config, weights=str(target), generator_weights=str(generator))


def _rows(images: int) -> int:
    """The most rows of a grid of `images` pictures that is at most as tall as it is wide."""
    return max(
        rows for rows in range(1, images + 1) if images % rows == 0 and rows * rows <= images
    )


if __name__ == "__main__":
    main()
