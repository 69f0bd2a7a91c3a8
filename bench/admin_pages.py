"""Admin pages at the paper's scale: database queries and seconds of each researcher's page.

    createdb -h 127.0.0.1 -U postgres admin_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/admin_bench \
        .venv/bin/python bench/admin_pages.py [--participants 400] [--repeat 3] [--json out.json]

Needs a fresh PostgreSQL database whose name contains "bench"; migrates it with DEBUG off (as
bench/load_participants.py). Stores a study shaped like the paper's (3,299 main panels in 64
lists, 7 practice panels) with --participants in every state and their answers (bulk_create),
a few withdrawals, alexnet's 9,448 selectivity scores, and a second study of that shape without
participants. A superuser (django.test.Client) opens each page --repeat times: median seconds,
queries of the last time. Nothing is deleted: the confirmed deletion is rolled back.
"""

import argparse
import atexit
import collections
import contextlib
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import types
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SLUG, EMPTY_SLUG = "paper", "paper-empty"
PRACTICE_PANELS, PRACTICE_TRIALS, LISTS = 7, 6, 64
ALEXNET = {"conv5": 256, "fc6": 4096, "fc7": 4096, "fc8": 1000}  # 9,448 units


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def django_start() -> None:
    """load_participants' environment and start, on the database of DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        raise SystemExit(
            f"Refusing to run on {url or 'no DATABASE_URL'}: name a PostgreSQL database whose "
            "name contains 'bench' (createdb -h 127.0.0.1 -U postgres admin_bench)."
        )
    import load_participants

    work = Path(tempfile.mkdtemp(prefix="am-admin-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # collected static files, the key
    args = types.SimpleNamespace(database_url=url)
    environment = load_participants.django_environment(args, work / "media", work / "static")
    environment |= {"DJANGO_VAR_DIR": str(work), "DJANGO_PSEUDONYM_KEY": secrets.token_hex(32)}
    load_participants.django_start(environment)


def study_make(slug: str):
    """experiment_backend's paper experiment, with practice panels and 64 lists."""
    from experiment_backend import paper_experiment

    from experiment.models import Panel
    from experiment.services import experiment_lists_build

    experiment = paper_experiment(slug)
    experiment.practice_trials = PRACTICE_TRIALS
    experiment.title = f"Paper-shaped study ({slug})"
    experiment.save()
    Panel.objects.bulk_create(
        Panel(experiment=experiment, source=f"practice/{n}", image="x.png", is_practice=True,
              intended_answer=("yes", "no")[n % 2])
        for n in range(PRACTICE_PANELS)
    )  # fmt: skip
    experiment_lists_build(experiment=experiment, lists=LISTS, seed=0)
    return experiment


def kind_of(n: int, total: int) -> str:
    """3 pilot runs, 2% excluded, 5% in progress, 10% abandoned, the rest completed."""
    for kind, share in (("pilot", 3), ("excluded", total // 50), ("in_progress", total // 20),
                        ("abandoned", total // 10)):  # fmt: skip
        if n < share:
            return kind
        n -= share
    return "completed"


def participants_make(experiment, total: int, seed: int) -> None:
    """`total` participants over the lists, their answers, a few withdrawals (bulk_create)."""
    from django.utils import timezone

    from experiment.models import Participant, Response, Withdrawal, external_id_key
    from experiment.services import trial_order_new

    rng, now = random.Random(seed), timezone.now()
    labels = [name for _, name in json.loads(
        (ROOT / "generator/am/data/imagenet_class_index.json").read_text()).values()]  # fmt: skip
    trial_lists = list(experiment.trial_lists.order_by("number"))
    experiment.participants_per_list = -(-total // len(trial_lists)) + 1
    experiment.save()
    people, times, answered = [], [], []
    for n in range(total):
        kind = kind_of(n, total)
        trial_list = trial_lists[n % len(trial_lists)]
        order = trial_order_new(experiment=experiment, trial_list=trial_list, rng=rng)
        started = now - timedelta(hours=rng.uniform(3, 72) if kind != "in_progress" else 0.2)
        last_seen = started + timedelta(minutes=rng.uniform(5, 30))
        done = kind in ("completed", "excluded")
        external_id = secrets.token_hex(12)
        people.append(Participant(
            experiment=experiment, external_id=external_id, entry="prolific",
            external_key=external_id_key(external_id),
            trial_list=trial_list, trial_order=order, consented_at=started,
            status=Participant.Status.COMPLETED if done else Participant.Status.IN_PROGRESS,
            completed_at=last_seen if done else None, is_pilot=kind == "pilot",
            excluded=kind in ("pilot", "excluded"),
            exclusion_reason=kind if kind in ("pilot", "excluded") else "",
        ))  # fmt: skip
        times.append((started, min(last_seen, now)))
        answered.append(len(order) if done else rng.randrange(len(order)))
    people = Participant.objects.bulk_create(people)
    for person, (started, last_seen) in zip(people, times, strict=True):
        person.started_at, person.last_seen_at = started, last_seen  # auto_now_add on create
    Participant.objects.bulk_update(people, ["started_at", "last_seen_at"], batch_size=500)
    Response.objects.bulk_create(
        (Response(participant=person, panel_id=panel_id, trial_index=i,
                  is_practice=i < PRACTICE_TRIALS, q1_yes=(yes := rng.random() < 0.6),
                  q2_bin=rng.randrange(5) if yes else None,
                  q3_first=rng.choice(labels) if yes else "",
                  q3_second=rng.choice(labels) if yes and rng.random() < 0.3 else "",
                  response_ms=rng.randrange(1500, 20000))
         for person, count in zip(people, answered, strict=True)
         for i, panel_id in enumerate(person.trial_order[:count])),
        batch_size=2000,
    )  # fmt: skip
    Withdrawal.objects.bulk_create(
        Withdrawal(experiment=experiment, id_digest=secrets.token_hex(32)) for _ in range(5)
    )


def scores_make() -> int:
    from analysis.models import SelectivityScore

    rows = SelectivityScore.objects.bulk_create(
        (SelectivityScore(network="alexnet", layer=layer, unit=unit, n_images=50000)
         for layer, size in ALEXNET.items() for unit in range(size)),
        batch_size=2000,
    )  # fmt: skip
    return len(rows)


def pages(experiment, empty) -> list[tuple]:
    """(name, method, path, data, expected status, rolled back) of each page measured."""
    from experiment.models import Participant

    admin, exp = "/admin/experiment/", f"/admin/experiment/experiment/{experiment.id}"
    people = f"{admin}participant/"
    ids = [str(n) for n in Participant.objects.values_list("id", flat=True)]
    chosen = {"action": "delete_selected", "_selected_action": ids}
    confirmed = chosen | {"post": "yes"}
    export = {"action": "export_responses", "_selected_action": [str(experiment.id)]}
    by_experiment = f"?experiment__id__exact={experiment.id}"
    return [
        get("experiments changelist", f"{admin}experiment/"),
        get("experiment change page", f"{exp}/change/"),
        get("experiment progress page", f"{exp}/progress/"),
        get("experiment delete page (participants)", f"{exp}/delete/"),
        get("experiment delete page (none)", f"{admin}experiment/{empty.id}/delete/"),
        get("participants changelist", people),
        get("participants, by experiment", f"{people}{by_experiment}"),
        get("participants, abandoned", f"{people}?state=abandoned"),
        ("participants delete_selected page", "post", people, chosen, 200, False),
        ("participants deleted (rolled back)", "post", people, confirmed, 302, True),
        get("responses changelist", f"{admin}response/"),
        get("panels changelist", f"{admin}panel/"),
        get("trial lists changelist", f"{admin}triallist/"),
        ("responses CSV export", "post", f"{admin}experiment/", export, 200, False),
    ]


def get(name: str, path: str) -> tuple:
    return name, "get", path, None, 200, False


def measure(client, method, path, data, rollback) -> tuple[int, int, float, str]:
    """(status, queries, seconds, note) of one request; in a rolled-back transaction if asked
    (the note then says how many participants were left before the rollback)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from experiment.models import Participant

    connection.queries_log = collections.deque()  # Django's keeps 9,000: past that, 0 counted
    with transaction.atomic() if rollback else contextlib.nullcontext():
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            reply = getattr(client, method)(path, data)
            body = b"".join(reply) if reply.streaming else reply.content
            seconds = time.perf_counter() - start
        note = "refused" if b"Delete them first" in body else ""
        note = "asks to confirm" if b"Are you sure" in body and not note else note
        if rollback:
            note = f"{Participant.objects.count()} participants left, rolled back"
            transaction.set_rollback(True)
    return reply.status_code, len(queries), seconds, note


def main() -> None:
    args = arguments()
    django_start()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from experiment.models import Experiment, Participant, Response

    if Experiment.objects.exists():
        raise SystemExit("The database holds experiments already: give a fresh one (createdb).")
    start = time.perf_counter()
    experiment = study_make(SLUG)
    empty = study_make(EMPTY_SLUG)
    participants_make(experiment, args.participants, args.seed)
    scores = scores_make()
    build_s = time.perf_counter() - start
    print(f"Code: {Path(sys.modules['experiment.admin'].__file__).parents[1]}")
    print(
        f"Built in {build_s:.1f} s: {experiment.panels.count()} panels x2, {LISTS} lists x2, "
        f"{Participant.objects.count()} participants, {Response.objects.count()} answers, "
        f"{experiment.withdrawals.count()} withdrawals, {scores} selectivity scores"
    )
    client = Client(SERVER_NAME="127.0.0.1", raise_request_exception=False)
    client.force_login(get_user_model().objects.create_superuser("bench", "", None))
    client.get("/admin/")  # templates loaded, the session read: not timed
    print("Load average (1/5/15 min) before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    rows = []
    print(f"\n{'page':<40} {'status':>6} {'queries':>8} {'median s':>9}  note")
    for name, method, path, data, expected, rollback in pages(experiment, empty):
        runs = [measure(client, method, path, data, rollback) for _ in range(args.repeat)]
        status, queries, _, note = runs[-1]
        seconds = statistics.median(run[2] for run in runs)
        note += "" if status == expected else f" (expected status {expected})"
        rows.append({"page": name, "status": status, "queries": queries, "median_s": seconds,
                     "runs_s": [run[2] for run in runs], "note": note})  # fmt: skip
        print(f"{name:<40} {status:>6} {queries:>8} {seconds:>9.3f}  {note}", flush=True)
    print("Load average (1/5/15 min) after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    left = Participant.objects.count(), Response.objects.count()
    print(f"Left after the run: {left[0]} participants, {left[1]} answers (nothing deleted)")
    if args.json:
        figures = {"settings": vars(args) | {"json": None}, "build_s": build_s, "pages": rows}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
