"""Speed of the experiment's back end: list building, panel import and assignment under a rush.

Runs on a throw-away test database of the configured DATABASE_URL (SQLite without it; the rush
needs PostgreSQL and is skipped otherwise) and prints one line per figure:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/experiment_backend.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from experiment.digits import digit_unit_panels_write  # noqa: E402
from experiment.lists import stratified_lists  # noqa: E402
from experiment.models import Experiment, Panel  # noqa: E402
from experiment.panel_import import panels_import_dir  # noqa: E402
from experiment.services import (  # noqa: E402
    StudyUnavailable,
    experiment_lists_build,
    participant_enter,
)

PAPER_LAYERS = {"conv5": 256, "fc8": 995, "fc6": 2048}


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def bench_lists_pure() -> None:
    panels = []
    for layer, size in PAPER_LAYERS.items():
        panels += [(len(panels) + i, ("alexnet", layer)) for i in range(size)]
    seconds, _ = timed(stratified_lists, panels, lists=64, seed=0)
    print(f"stratified_lists, paper example (3299 panels, 64 lists): {seconds * 1000:.1f} ms")


def paper_experiment(slug: str) -> Experiment:
    experiment = Experiment.objects.create(slug=slug, title=slug, practice_trials=0)
    Panel.objects.bulk_create(
        Panel(
            experiment=experiment,
            source=f"{layer}/{unit}",
            image="x.png",
            network="alexnet",
            layer=layer,
            unit=unit,
        )
        for layer, size in PAPER_LAYERS.items()
        for unit in range(size)
    )
    return experiment


def bench_lists_db() -> None:
    experiment = paper_experiment("lists")
    seconds, _ = timed(experiment_lists_build, experiment=experiment, lists=64, seed=0)
    print(f"experiment_lists_build, paper example, stored: {seconds:.2f} s")


def bench_import(panels: int) -> None:
    experiment = Experiment.objects.create(slug="import", title="import")
    with tempfile.TemporaryDirectory() as folder:
        digit_unit_panels_write(Path(folder), layer="fc6", units=panels, images=100)
        seconds, result = timed(
            panels_import_dir, experiment=experiment, directory=Path(folder), network="digits"
        )
    print(
        f"panels_import_dir, {len(result.imported)} panels of 10x10 digits (1048 px PNG): "
        f"{seconds:.1f} s, {len(result.imported) / seconds:.1f} panels/s"
    )


def rush_experiment(slug: str) -> Experiment:
    experiment = paper_experiment(slug)
    experiment.participants_per_list = 10
    experiment.save()
    experiment_lists_build(experiment=experiment, lists=64, seed=0)
    return experiment


def bench_enter_one_at_a_time(arrivals: int) -> None:
    experiment = rush_experiment("sequential")
    seconds = sorted(
        timed(participant_enter, experiment=experiment, external_id=f"p{n}")[0] * 1000
        for n in range(arrivals)
    )
    print(
        f"participant_enter one at a time ({arrivals}, one connection): "
        f"p50 {statistics.median(seconds):.1f} ms, max {seconds[-1]:.1f} ms"
    )


def bench_rush(arrivals: int, connections_at_once: int) -> None:
    experiment = rush_experiment("rush")
    barrier, gate = threading.Barrier(arrivals), threading.BoundedSemaphore(connections_at_once)

    def arrive(number: int) -> tuple[float, bool]:
        barrier.wait()
        with gate:
            start = time.perf_counter()
            try:
                participant_enter(experiment=experiment, external_id=f"p{number}")
                joined = True
            except StudyUnavailable:
                joined = False
            finally:
                connections.close_all()
            return time.perf_counter() - start, joined

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=arrivals) as pool:
        results = list(pool.map(arrive, range(arrivals)))
    wall = time.perf_counter() - start
    latencies = sorted(seconds * 1000 for seconds, _ in results)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(
        f"participant_enter rush: {arrivals} arrivals at once ({connections_at_once} connections, "
        f"64 lists of 51-52 panels): {arrivals / wall:.0f} arrivals/s, "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms (incl. connecting), "
        f"{sum(joined for _, joined in results)} joined"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-panels", type=int, default=20)
    parser.add_argument("--arrivals", type=int, default=300)
    parser.add_argument("--connections", type=int, default=40)
    options = parser.parse_args()
    bench_lists_pure()
    old_config = setup_databases(verbosity=0, interactive=False)
    with tempfile.TemporaryDirectory() as media:
        settings.MEDIA_ROOT = media
        try:
            print(f"database: {connection.vendor}")
            bench_lists_db()
            bench_import(options.import_panels)
            bench_enter_one_at_a_time(100)
            if connection.vendor == "postgresql":
                bench_rush(options.arrivals, options.connections)
            else:
                print("participant_enter rush: skipped (needs PostgreSQL)")
        finally:
            connections.close_all()
            teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
