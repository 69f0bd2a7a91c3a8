"""Load test of the participant side: many participants at once against gunicorn + PostgreSQL.

    .venv/bin/python bench/load_participants.py --participants 300 --think-ms 1000

Recreates the PostgreSQL database named in --database-url (its name must contain "bench"),
stores an experiment of 64 lists (the paper's design) with panels sharing one image file,
serves the project with gunicorn on loopback (DEBUG off, gthread workers, persistent database
connections), runs the simulated crowd of bench/load_client.py, then checks in the database
that every answer sent is stored exactly once. Also reports the bytes of served panels.
Everything runs on 127.0.0.1 and every loop is bounded.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SLUG = "load"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument(
        "--think-ms", type=float, default=1000, help="mean pause before each answer"
    )
    parser.add_argument(
        "--ramp-s", type=float, default=0, help="arrivals spread over this long (0: all at once)"
    )
    parser.add_argument("--lists", type=int, default=64)
    parser.add_argument("--panels-per-list", type=int, default=52)
    parser.add_argument("--practice", type=int, default=6)
    parser.add_argument("--resend-share", type=float, default=0.05, help="answers sent twice")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/am_load_bench"
    )
    return parser.parse_args()


def database_recreate(url: str) -> None:
    """Drop and create the bench database (only one whose name says it is for benchmarks)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        raise SystemExit(f"Refusing to recreate database {name!r}: its name must contain 'bench'.")
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def django_environment(args, media: Path, static: Path) -> dict[str, str]:
    """The environment of both this process and gunicorn: production settings on loopback."""
    return os.environ | {
        "DATABASE_URL": args.database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_MEDIA_ROOT": str(media),
        "DJANGO_STATIC_ROOT": str(static),
        "DJANGO_CONN_MAX_AGE": "600",
        "PYTHONPATH": str(ROOT),
    }


def django_start(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)


def server_start(args, environment: dict[str, str]) -> subprocess.Popen:
    """gunicorn with gthread workers on 127.0.0.1; waits (bounded) until it accepts."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=environment)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start within 20 s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_rows(crowd) -> list[str]:
    """p50 / p99 / max in ms per kind of request."""
    kinds: dict[str, list[float]] = {}
    for participant in crowd:
        for kind, values in participant.latencies.items():
            kinds.setdefault(kind, []).extend(values)
    return [
        f"  {kind:<11} n={len(values):>6}  p50={1000 * statistics.median(values):7.1f} ms  "
        f"p99={1000 * percentile(values, 0.99):7.1f} ms  max={1000 * max(values):7.1f} ms"
        for kind, values in sorted(kinds.items())
    ]


def steady_row(crowd) -> str:
    """Answer latency while every participant was active (after the last arrival's first
    answer, before the first participant's last answer)."""
    begin = max(p.answered_at[0] for p in crowd if p.answered_at)
    end = min(p.answered_at[-1] for p in crowd if p.answered_at)
    values = [
        latency
        for p in crowd
        for at, latency in zip(p.answered_at, p.latencies.get("answer", []), strict=True)
        if begin <= at <= end
    ]
    if not values:
        return "  steady state: none (no moment had every participant answering)"
    return (
        f"  answers while all {len(crowd)} were active ({end - begin:.0f} s): n={len(values)}  "
        f"{len(values) / (end - begin):.0f}/s  p50={1000 * statistics.median(values):.1f} ms  "
        f"p99={1000 * percentile(values, 0.99):.1f} ms"
    )


def main() -> None:
    args = arguments()
    database_recreate(args.database_url)
    work = Path(tempfile.mkdtemp(prefix="am-load-"))
    environment = django_environment(args, work / "media", work / "static")
    django_start(environment)
    import load_setup

    experiment = load_setup.experiment_make(
        slug=SLUG,
        lists=args.lists,
        per_list=args.panels_per_list,
        practice=args.practice,
        cap=-(-args.participants // args.lists) + 1,
        seed=args.seed,
    )
    queries = load_setup.answer_queries(experiment)
    print(f"Database queries per answer POST (measured in-process): {queries}")
    print("Load average (1/5/15 min) before: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    server = server_start(args, environment)
    try:
        print("Served panel bytes:", load_setup.panel_bytes_report(experiment, args.port))
        import load_client

        crowd, errors, wall = asyncio.run(
            load_client.crowd_run(
                "127.0.0.1",
                args.port,
                SLUG,
                args.participants,
                args.think_ms / 1000,
                args.resend_share,
                args.seed,
                args.ramp_s,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(args, crowd, errors, wall, load_setup.stored_check(experiment, crowd))


def report(args, crowd, errors, wall, check) -> None:
    answers = sum(len(p.latencies.get("answer", [])) for p in crowd)
    requests = sum(len(v) for p in crowd for v in p.latencies.values())
    print(
        f"{args.participants} participants arriving over {args.ramp_s:.0f} s, "
        f"think time {args.think_ms:.0f} ms mean, "
        f"gunicorn {args.workers} workers x {args.threads} threads"
    )
    print(
        f"Wall time {wall:.1f} s; {requests} requests ({requests / wall:.0f}/s); "
        f"{answers} answer POSTs ({answers / wall:.0f}/s), {sum(p.resent for p in crowd)} resent"
    )
    print("\n".join(latency_rows(crowd)))
    print(steady_row(crowd))
    print("Load average (1/5/15 min) at the end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"Flow errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(check)


if __name__ == "__main__":
    main()
