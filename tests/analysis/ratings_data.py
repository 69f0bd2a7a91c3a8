"""Small hand-built response tables for the ratings tests (not a test module)."""

import pandas as pd
import pytest

from analysis.labels import AgreementJudge, LabelMatcher

FLAT_COATED_RETRIEVER, GRANNY_SMITH, SPORTS_CAR, EGGNOG = (
    "n02099267",
    "n07742313",
    "n04285008",
    "n07932039",
)


@pytest.fixture(scope="session")
def matcher() -> LabelMatcher:
    """The real WordNet matcher (make wordnet builds var/nltk_data), loaded once per session."""
    from django.conf import settings

    from analysis.selectors import labels_matcher

    return labels_matcher(str(settings.NLTK_DATA_DIR))


@pytest.fixture(autouse=True)
def label_cache_in_tmp(settings, tmp_path):
    """Label decisions a test stores go to its own folder, not the project's var/."""
    settings.VAR_DIR = tmp_path / "var"


def units_frame(rows: list[tuple]) -> pd.DataFrame:
    """Units from (key, network, layer, unit, most_active_wnid, ccmas_wnid)."""
    columns = ["key", "network", "layer", "unit", "most_active_wnid", "ccmas_wnid"]
    return pd.DataFrame(rows, columns=columns).set_index("key")


def responses_frame(rows: list[tuple], matcher: LabelMatcher) -> pd.DataFrame:
    """Main responses from (participant, unit key, yes, label text)."""
    frame = pd.DataFrame(rows, columns=["participant", "unit", "yes", "text"])
    frame["labels"] = [matcher.labels(text) for text in frame["text"]]
    frame["is_practice"] = False
    frame["q2_bin"] = float("nan")
    frame["response_ms"] = 5000
    frame["panel"] = frame["source"] = frame["unit"]
    frame["intended_answer"] = frame["intended_label"] = ""
    frame["active"], frame["excluded"] = False, False
    return frame


def hand_case(matcher, overrides=None):
    """Layer L with three units; the expected values are worked out in test_ratings_table1."""
    units = units_frame(
        [
            ("u1", "net", "L", 1, FLAT_COATED_RETRIEVER, SPORTS_CAR),
            ("u2", "net", "L", 2, GRANNY_SMITH, ""),
            ("u3", "net", "L", 3, EGGNOG, EGGNOG),
        ]
    )
    responses = responses_frame(
        [
            (1, "u1", True, "dogs"), (2, "u1", True, "Dog"), (3, "u1", True, "a dog"),
            (4, "u1", True, "puppies"), (5, "u1", True, "car"),
            (1, "u2", True, "apples"), (2, "u2", True, "apple"), (3, "u2", True, "green peppers"),
            (4, "u2", True, "car"), (5, "u2", False, ""),
            (1, "u3", True, "drink"), (2, "u3", False, ""), (3, "u3", False, ""),
            (4, "u3", False, ""),
        ],
        matcher,
    )  # fmt: skip
    return responses, units, AgreementJudge(matcher, overrides or {})


def build_experiment(slug="exp", units_per_layer=None, lists=2, practice=2, scores=True):
    """An experiment with main panels in `lists` trial lists, practice panels and (optionally)
    selectivity scores whose most-active class is a dog breed for conv5 and eggnog for fc8."""
    from analysis.models import SelectivityScore
    from experiment.models import Experiment, Panel, TrialList, TrialListItem

    units_per_layer = units_per_layer or {"conv5": 4, "fc8": 4}
    experiment = Experiment.objects.create(slug=slug, title=f"Experiment {slug}")
    trial_lists = [TrialList.objects.create(experiment=experiment, number=n) for n in range(lists)]
    classes = {"conv5": 208, "fc8": 969}  # Labrador retriever, eggnog
    for layer, count in units_per_layer.items():
        for unit in range(count):
            panel = Panel.objects.create(
                experiment=experiment, source=f"{layer}-{unit}", image="p.png",
                display_image="p.jpg", network="alexnet", layer=layer, unit=unit,
            )  # fmt: skip
            TrialListItem.objects.create(trial_list=trial_lists[unit % lists], panel=panel)
            if scores:
                SelectivityScore.objects.get_or_create(
                    network="alexnet", layer=layer, unit=unit,
                    defaults={"n_images": 10, "most_active_class": classes.get(layer, 1),
                              "ccmas_class": classes.get(layer, 1), "precision": unit / 10,
                              "ccmas": 0.1 * unit},
                )  # fmt: skip
    for n in range(practice):
        Panel.objects.create(
            experiment=experiment, source=f"practice-{n}", image="p.png", display_image="p.jpg",
            is_practice=True, intended_answer="yes" if n % 2 == 0 else "no",
            intended_label="fish" if n % 2 == 0 else "",
        )  # fmt: skip
    return experiment


def answer_all(
    experiment, external_id, yes, label="dog", synthetic=False, ms=5000, trials=None, status=None
):
    """A participant who answers the first `trials` panels (default: all; practice first) of
    the experiment the same way, and has completed the study unless `status` says otherwise.

    They consented `ms` per answer ago, and each answer is stored `ms` after the one before,
    the last one now: the server's clock agrees with the browser's count, as for a real
    participant on an instant connection."""
    from datetime import timedelta

    from django.utils import timezone

    from experiment.models import Participant, Response

    panels = list(experiment.panels.order_by("-is_practice", "id")[:trials])
    consented = timezone.now() - timedelta(milliseconds=ms * len(panels))
    participant = Participant.objects.create(
        experiment=experiment, external_id=external_id, is_synthetic=synthetic,
        status=status or Participant.Status.COMPLETED, consented_at=consented,
    )  # fmt: skip
    Participant.objects.filter(pk=participant.pk).update(started_at=consented)  # auto_now_add
    participant.started_at = consented
    for index, panel in enumerate(panels):
        said_yes = yes(panel) if callable(yes) else yes
        response = Response.objects.create(
            participant=participant, panel=panel, trial_index=index,
            is_practice=panel.is_practice, q1_yes=said_yes, q2_bin=4 if said_yes else None,
            q3_first=label if said_yes else "", response_ms=ms,
        )  # fmt: skip
        stored = consented + timedelta(milliseconds=ms * (index + 1))
        Response.objects.filter(pk=response.pk).update(created_at=stored)  # not auto_now_add
    return participant


def add_second_panel_of_a_unit(experiment, layer="conv5", unit=0):
    """A second main panel of a unit, as imports could make before the database refused it
    (experiment migration 0003): the constraint is dropped for this test's transaction only."""
    from django.db import connection

    from experiment.models import Panel, TrialListItem

    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "panel_one_per_unit"')
    panel = Panel.objects.create(
        experiment=experiment, source=f"{layer}-{unit}-again", image="p.png",
        display_image="p.jpg", network="alexnet", layer=layer, unit=unit,
    )  # fmt: skip
    TrialListItem.objects.create(trial_list=experiment.trial_lists.last(), panel=panel)
    return panel
