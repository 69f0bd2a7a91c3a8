"""The whole ratings analysis at the paper's size: 333 participants x 52 trials, 3,299 units.

Builds, in a throw-away SQLite database, an experiment like the paper's (256 conv5, 2048 fc6 and
995 fc8 panels in 64 lists, 6 practice panels, selectivity scores for every unit), fills it with
simulate_responses' model, then times analyze_ratings' work (ratings_report) three times:
cold (WordNet loaded, no label decision cached), warm (label decisions cached, as in a
long-running server), as a new process would (decisions read from var/cache, WordNet not
loaded), and warm with a 200-replicate bootstrap; then the writing of the files, and the
whole `manage.py analyze_ratings` command in a new process (with the label cache file), and
the admin's report page: its first view and a label search (the figures kept from the first).

    PYTHONPATH=. .venv/bin/python bench/analysis_ratings.py [--participants 333] [--json out.json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DJANGO_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-ratings-")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402

LAYERS = {"conv5": 256, "fc6": 2048, "fc8": 995}  # paper appendix 5
LISTS = 64


def build(participants: int):
    """The paper-sized experiment, its scores and simulated participants."""
    from analysis.models import SelectivityScore
    from analysis.ratings.simulation import SimulationSettings
    from analysis.services import simulation_responses_create
    from experiment.models import Experiment, Panel, TrialList, TrialListItem

    rng = np.random.default_rng(0)
    experiment = Experiment.objects.create(slug="paper", title="Paper-sized bench")
    lists = TrialList.objects.bulk_create(
        TrialList(experiment=experiment, number=n) for n in range(LISTS)
    )
    panels = Panel.objects.bulk_create(
        Panel(experiment=experiment, source=f"{layer}-{unit}", image="p.png", display_image="p.jpg",
              network="alexnet", layer=layer, unit=unit)
        for layer, count in LAYERS.items() for unit in range(count)
    )  # fmt: skip
    Panel.objects.bulk_create(
        Panel(experiment=experiment, source=f"practice-{n}", image="p.png", display_image="p.jpg",
              is_practice=True, intended_answer="yes" if n % 2 else "no")
        for n in range(6)
    )  # fmt: skip
    order = rng.permutation(len(panels))
    TrialListItem.objects.bulk_create(
        TrialListItem(trial_list=lists[i % LISTS], panel=panels[p]) for i, p in enumerate(order)
    )
    SelectivityScore.objects.bulk_create(
        SelectivityScore(
            network="alexnet", layer=p.layer, unit=p.unit, n_images=50000,
            most_active_class=int(rng.integers(1000)), ccmas_class=int(rng.integers(1000)),
            precision=rng.random(), ccmas=rng.random(), max_informedness=rng.random(),
            recall_at_95_precision=rng.random(), classes_in_top100=int(rng.integers(1, 60)),
        )
        for p in panels
    )  # fmt: skip
    simulation_responses_create(
        experiment=experiment, participants=participants, settings=SimulationSettings(seed=1)
    )
    return experiment


def timed(label: str, function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:7.2f} s")
    return seconds, result


def admin_page(experiment):
    """A function opening the experiment's ratings report page in the admin as a superuser
    (its simulated participants' report), with extra query parameters; it checks the reply."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.create_superuser("bench", "", None))
    url = reverse("admin:analysis_ratings_report", args=[experiment.slug])

    def page(**query):
        reply = client.get(url, {"participants": "synthetic", **query})
        assert reply.status_code == 200 and b"data:image/png;base64," in reply.content
        return reply

    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=333)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from analysis.ratings.table1 import Table1Settings
    from analysis.selectors import labels_judge, labels_matcher, ratings_report
    from analysis.services import ratings_report_write
    from experiment.models import Response

    call_command("migrate", verbosity=0)
    figures = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU"}
    figures["build_s"], experiment = timed(
        "build + simulate (not part of the analysis)", lambda: build(args.participants)
    )
    figures["responses"] = Response.objects.count()
    figures["wordnet_load_s"], _ = timed("load WordNet", lambda: labels_judge().matcher.wordnet)
    report = lambda **kw: ratings_report(experiment=experiment, participants="synthetic", **kw)  # noqa: E731
    figures["cold_s"], result = timed("report, label decisions not cached", report)
    figures["warm_s"], result = timed("report, label decisions cached", report)
    labels_matcher.cache_clear()  # as a new process: decisions from the cache file, no WordNet
    figures["new_process_s"], result = timed("report, decisions from the cache file", report)
    figures["wordnet_loaded_again"] = "wordnet" in vars(labels_judge().matcher)
    boot = Table1Settings(bootstrap=200)
    figures["bootstrap200_s"], _ = timed(
        "report + bootstrap 200, cached", lambda: report(table_settings=boot)
    )
    out = Path(os.environ["DJANGO_VAR_DIR"]) / "report"
    write = lambda: ratings_report_write(report=result, out_dir=out, title="bench")  # noqa: E731
    figures["write_files_s"], _ = timed("write CSV, Markdown and PNG figures", write)
    figures["label_pairs_decided"] = len(result.decisions)
    page = admin_page(experiment)
    figures["page_first_s"], _ = timed("admin report page, first view", lambda: page())
    figures["page_search_s"], _ = timed("admin report page, a label search", lambda: page(q="dog"))
    command = [sys.executable, str(ROOT / "manage.py"), "analyze_ratings", "--experiment", "paper"]
    command += ["--participants", "synthetic", "--out", str(out)]
    run = lambda: subprocess.run(command, check=True, capture_output=True, env=os.environ)  # noqa: E731
    figures["command_s"], _ = timed("manage.py analyze_ratings, new process", run)
    print(result.table1[["layer", "units", "responses", "a", "a_se", "b", "c", "d", "e"]].round(1))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
