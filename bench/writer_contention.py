"""Do the unit writers slow the thread that drives the GPU?

The sampling thread spends its time launching kernels: Python and torch's dispatcher, holding
the GIL. The writers (`pipeline.WRITERS` threads) encode PNGs, mostly in Pillow's C code
without the GIL. If they held it much, they would slow the launches and so a whole run on the
GPU. Here a dispatch-bound loop of tiny torch operations (the launching's CPU side, without a
GPU) runs alone, beside a writer thread, and beside a writer process (no shared GIL), each
writing units as `outputs.unit_write` does. Thread and process slowing it alike means the GIL
is not what costs; on a machine with a core for each, either slows it only by shared caches.

    PYTHONPATH=. python bench/writer_contention.py [--seconds 4] [--repeats 2]
"""

import argparse
import multiprocessing
import tempfile
import threading
import time
from pathlib import Path

import torch

from generator.am import outputs


def write_units(stop, written) -> None:
    """Write 100-picture units until `stop` is set, counting them in `written`."""
    torch.set_num_threads(1)
    pictures = torch.rand(100, 3, 227, 227)
    with tempfile.TemporaryDirectory() as folder:
        while not stop.is_set():
            unit = written.value
            result = outputs.UnitResult(unit, pictures, list(range(100)), [0.0] * 100, [1.0] * 100)
            outputs.unit_write(Path(folder), result, settings={}, quality={}, rows=10, cols=10)
            written.value += 1


def dispatch_rate(seconds: float) -> float:
    """Tiny torch operations a second on this thread."""
    x, count, started = torch.zeros(1), 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(1000):
            x = x + 1
        count += 1000
    return count / (time.perf_counter() - started)


def beside(kind: str, seconds: float) -> tuple[float, int]:
    """(dispatch rate, units written meanwhile) beside one writer thread or process."""
    context = multiprocessing.get_context("spawn")
    written = context.Value("i", 0)
    if kind == "thread":
        stop = threading.Event()
        writer = threading.Thread(target=write_units, args=(stop, written))
    else:
        stop = context.Event()
        writer = context.Process(target=write_units, args=(stop, written))
    writer.start()
    time.sleep(2)  # past the start (a process imports torch)
    before = written.value
    rate = dispatch_rate(seconds)
    units = written.value - before
    stop.set()
    writer.join()
    return rate, units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for _ in range(args.repeats):
        print(f"alone: {dispatch_rate(args.seconds):,.0f} operations/s", flush=True)
        for kind in ("thread", "process"):
            rate, units = beside(kind, args.seconds)
            print(f"beside a writer {kind}: {rate:,.0f} operations/s ({units} units written)")


if __name__ == "__main__":
    main()
