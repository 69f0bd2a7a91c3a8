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

`--simulate SECONDS` runs the same whole run on any machine with the GPU's work stood in for:
each batch waits SECONDS (without the GIL, as the sampling thread waits for the GPU) and gives
back the same 100 pictures (crops of scikit-learn's sample photographs, already 8-bit as the
GPU hands them over) with made-up activations and classes. It shows whether the rest of a run
(collecting chains, the writer threads, the flushes) keeps the pace of a given GPU on this
machine's cores and disk: 9.0 s a batch of 1024 is the eighth session's H100 (a unit every
0.88 s). `--fsync-ms` makes every flush wait that much longer (a slow or network disk), and
`--flushers 1` has each writer flush its unit's files itself, one by one, as runs did
before the ninth session (more: a pool of that many threads shared by the writers);
`--writers` sets the number of writer threads (the eighth session's runs had 4).

    python bench/panels_speed.py --device cuda --units 40 --batch 1024 --bf16 --channels-last \
        --compile [--json figures.json]
    python bench/panels_speed.py --device cpu --units 2 --images 4 --iterations 2 --batch 8
    python bench/panels_speed.py --device cpu --units 40 --batch 1024 --simulate 9.0 \
        [--fsync-ms 40] [--flushers 1] [--writers 4]

Django-free: run it with plain python from the repository root (PYTHONPATH=.).
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator_speed import random_ppgn  # noqa: E402
from lucent_baseline import synchronize  # noqa: E402

from generator.am import grid, outputs, pipeline  # noqa: E402
from generator.am.ppgn import SampleResult  # noqa: E402


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
    parser.add_argument("--simulate", type=float, metavar="SECONDS", help="a batch's GPU time")
    parser.add_argument("--fsync-ms", type=float, default=0.0)
    parser.add_argument("--flushers", type=int, help="threads flushing a unit (default: 32)")
    parser.add_argument("--writers", type=int, help=f"default: {pipeline.WRITERS}")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    sampler = random_ppgn(args, device, images_per_unit=args.images)
    config = sampler.config
    units = list(range(args.units))
    batches = list(pipeline.chain_plan(config, units))
    size = min(args.batch, args.units * args.images)
    stand_ins = ExitStack()
    if args.simulate is None:
        sampler.run(*pipeline.batch_padded(*batches[0], size))  # warm-up: autotuning, compiling
        synchronize(device)
        started = time.perf_counter()
        for batch in batches:
            sampler.run(*pipeline.batch_padded(*batch, size))
        synchronize(device)
        sampling = time.perf_counter() - started
    else:
        _gpu_simulated(sampler, args.simulate, size, stand_ins)
        sampling = args.simulate * len(batches)
    image_iterations = args.units * args.images * args.iterations
    figures = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": vars(args) | {"json": None},
        "sampling_only_s": sampling,
        "sampling_only_image_iterations_per_s": image_iterations / sampling,
    }
    if args.json:  # kept should the whole run be cut short (gpu_check's time limit)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.fsync_ms:
        stand_ins.enter_context(mock.patch("os.fsync", _slowed(os.fsync, args.fsync_ms / 1000)))
    if args.writers:
        stand_ins.enter_context(mock.patch.object(pipeline, "WRITERS", args.writers))
    if args.flushers == 1:
        stand_ins.enter_context(mock.patch.object(outputs, "_FLUSHERS", _OneByOne()))
    elif args.flushers:
        flushers = stand_ins.enter_context(ThreadPoolExecutor(args.flushers))
        stand_ins.enter_context(mock.patch.object(outputs, "_FLUSHERS", flushers))

    timing = _Timing(sampler)
    with stand_ins, tempfile.TemporaryDirectory() as folder, timing:
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

    figures |= {
        "writers": args.writers or pipeline.WRITERS,
        "flushers": outputs._FLUSHERS._max_workers if args.flushers is None else args.flushers,
        "whole_run_s": whole,
        "units_per_s": args.units / whole,
        "image_iterations_per_s": image_iterations / whole,
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


def _gpu_simulated(sampler, seconds: float, size: int, stand_ins: ExitStack) -> None:
    """`sampler.run` and the class predictions (a few milliseconds on a GPU) stood in for:
    each batch of `size` chains waits `seconds` and returns the same pictures."""
    from unit_write_speed import pictures  # scikit-learn's photographs

    shown = torch.from_numpy(grid.to_uint8(pictures()))  # (100, P, P, 3), as the GPU hands over
    shown = shown[torch.arange(size) % len(shown)]
    generator = torch.Generator().manual_seed(0)

    def run(units, seeds):
        time.sleep(seconds)  # without the GIL, as when waiting for the GPU
        starts, finals = torch.randn(2, len(units), generator=generator)
        return SampleResult(None, finals + 3, finals.sigmoid(), starts, None, pictures=shown)

    sampler.run = run
    classes = lambda target, images: list(range(size))  # noqa: E731
    stand_ins.enter_context(mock.patch.object(pipeline, "predicted_classes", classes))


class _OneByOne:
    """Each writer flushes its unit's files itself, one after another."""

    def map(self, function, items):
        return [function(item) for item in items]


def _slowed(fsync, seconds: float):
    def slow_fsync(descriptor):
        time.sleep(seconds)
        return fsync(descriptor)

    return slow_fsync


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
