"""Database side of bench/load_participants.py: the study to load, and the checks afterwards."""

import tempfile
from collections import Counter
from pathlib import Path
from urllib.request import urlopen

import numpy as np
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageFilter

from experiment.models import Experiment, Panel, Participant, Response
from experiment.services import (
    experiment_lists_build,
    panel_register,
    participant_consent,
    participant_enter,
)

TILE_PX = 227  # AlexNet's input size: a 10x10 panel of AM images is 2270 px square


def panel_image(kind: str, rng: np.random.Generator) -> Image.Image:
    """A 10x10 panel of 227 px tiles: pixel noise (worst case) or smooth blobs (AM-like)."""
    side = 10 * TILE_PX
    if kind == "noise":
        return Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    coarse = rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC)
    return image.filter(ImageFilter.GaussianBlur(3))


def panel_store(experiment: Experiment, kind: str, folder: Path, **fields) -> Panel:
    path = folder / f"{kind}.png"
    panel_image(kind, np.random.default_rng(0)).save(path)
    return panel_register(experiment=experiment, image_path=path, source=path.name, **fields)


def experiment_make(*, slug, lists, per_list, practice, cap, seed) -> Experiment:
    """64 lists of 52 panels by default; the panels' rows are real, their files shared."""
    experiment = Experiment.objects.create(
        slug=slug, title="Load test", participants_per_list=cap, practice_trials=practice
    )
    with tempfile.TemporaryDirectory() as folder:
        model = panel_store(experiment, "smooth", Path(folder), network="alexnet", layer="fc8")
    shared = {"image": model.image.name, "display_image": model.display_image.name}
    Panel.objects.bulk_create(
        [
            Panel(experiment=experiment, source=f"p{n}", is_practice=True, **shared)
            for n in range(practice)
        ]
        + [
            Panel(
                experiment=experiment,
                source=f"m{n}",
                network="alexnet",
                layer=("conv5", "fc6", "fc8")[n % 3],
                unit=n,
                **shared,
            )
            for n in range(lists * per_list - 1)
        ]
    )
    experiment_lists_build(experiment=experiment, lists=lists, seed=seed)
    return experiment


def answer_queries(experiment: Experiment) -> int:
    """Database queries of one answer POST through the whole Django stack."""
    participant = participant_enter(experiment=experiment, external_id="query-count")
    participant_consent(participant=participant)
    client = Client(SERVER_NAME="127.0.0.1")
    answer = {
        "trial_index": 0,
        "panel_id": participant.trial_order[0],
        "q1": "no",
        "response_ms": 1000,
    }
    path = f"/study/{experiment.slug}/p/{participant.token}/answer/"
    with CaptureQueriesContext(connection) as queries:
        reply = client.post(path, answer, content_type="application/json")
    assert reply.status_code == 200, reply.content
    participant.delete()
    return len(queries)


def panel_bytes_report(experiment: Experiment, port: int) -> str:
    """Bytes served for a worst-case (pixel noise) and an AM-like (smooth) 10x10 panel."""
    sizes = []
    bytes_experiment = Experiment.objects.create(slug=f"{experiment.slug}-bytes", title="Bytes")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("noise", "smooth"):
            panel = panel_store(bytes_experiment, kind, Path(folder))
            display = len(urlopen(f"http://127.0.0.1:{port}{panel.display_image.url}").read())
            full = len(urlopen(f"http://127.0.0.1:{port}{panel.image.url}").read())
            sizes.append(f"{kind}: display {display / 1024:.0f} KiB, full {full / 1024:.0f} KiB")
    return "; ".join(sizes)


def stored_check(experiment: Experiment, crowd) -> str:
    """Compare every answer the crowd sent with what the database holds."""
    stored = {
        (r.participant.external_id, r.trial_index): r
        for r in Response.objects.filter(participant__experiment=experiment).select_related(
            "participant"
        )
    }
    sent = {(p.external_id, i): a for p in crowd for i, a in p.answers.items()}
    missing = [key for key in sent if key not in stored]
    extra = [key for key in stored if key not in sent]
    differing = [key for key, a in sent.items() if key in stored and not same(a, stored[key])]
    participants = Participant.objects.filter(experiment=experiment)
    completed = participants.filter(status=Participant.Status.COMPLETED).count()
    fills = Counter(participants.values_list("trial_list_id", flat=True)).values()
    return (
        f"Stored check: {len(sent)} distinct answers sent, {len(stored)} stored, "
        f"{len(missing)} missing, {len(extra)} extra (duplicated), {len(differing)} differing; "
        f"{completed}/{participants.count()} participants completed; "
        f"list fills {min(fills, default=0)}..{max(fills, default=0)} "
        f"(cap {experiment.participants_per_list})"
    )


def same(answer: dict, response: Response) -> bool:
    labels = [label.strip() for label in answer["q3"].replace(";", ",").split(",") if label]
    return (
        response.q1_yes == (answer["q1"] == "yes")
        and response.q2_bin == answer["q2"]
        and [response.q3_first, response.q3_second][: len(labels)] == labels
        and response.response_ms == answer["response_ms"]
    )
