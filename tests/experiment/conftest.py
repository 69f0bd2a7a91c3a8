"""Fixtures of the experiment tests: experiments with panels rows, lists and participants."""

import pytest

from experiment.models import Experiment, Panel
from experiment.services import experiment_lists_build, participant_consent, participant_enter


def panels_create(experiment, *, network="alexnet", layer="fc6", units=4, practice=0):
    """Panel rows (no image files needed by the services) for `units` units and practice panels."""
    rows = [
        Panel(
            experiment=experiment,
            source=f"{network}/{layer}/{unit}",
            image=f"panels/full/{network}-{layer}-{unit}.png",
            display_image=f"panels/display/{network}-{layer}-{unit}.jpg",
            network=network,
            layer=layer,
            unit=unit,
        )
        for unit in range(units)
    ]
    rows += [
        Panel(
            experiment=experiment,
            source=f"practice/{index}",
            image=f"panels/full/practice-{index}.png",
            display_image=f"panels/display/practice-{index}.jpg",
            is_practice=True,
            intended_answer="yes" if index % 2 == 0 else "no",
            intended_label="dog" if index % 2 == 0 else "",
        )
        for index in range(practice)
    ]
    return Panel.objects.bulk_create(rows)


@pytest.fixture
def experiment(db):
    return Experiment.objects.create(slug="study", title="Study", practice_trials=2)


@pytest.fixture
def ready_experiment(experiment):
    """2 practice panels, 6 main panels over two layers, 2 lists."""
    panels_create(experiment, layer="conv5", units=2, practice=2)
    panels_create(experiment, layer="fc6", units=4)
    experiment_lists_build(experiment=experiment, lists=2, seed=1)
    return experiment


@pytest.fixture
def participant(ready_experiment):
    """A consenting participant of the ready experiment."""
    participant = participant_enter(experiment=ready_experiment, external_id="p1")
    participant_consent(participant=participant)
    return participant


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Admin users are made in many tests; the real hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
