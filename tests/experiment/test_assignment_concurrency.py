"""Many participants arriving at once on PostgreSQL: caps hold, fills stay level, no duplicates.

Each arrival runs in its own thread with its own database connection. PostgreSQL's default
max_connections is 100, so at most CONNECTIONS arrivals talk to the database at one moment;
all ARRIVALS threads are started together behind a barrier.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from experiment.models import Experiment, Participant
from experiment.services import StudyUnavailable, experiment_lists_build, participant_enter
from tests.experiment.conftest import panels_create

ARRIVALS = 120
CONNECTIONS = 40

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]


def arrive_all(experiment, external_ids: list[str]) -> list[object]:
    """Start one thread per id at the same moment; return each participant or exception."""
    barrier = threading.Barrier(len(external_ids))
    gate = threading.BoundedSemaphore(CONNECTIONS)

    def arrive(external_id: str):
        barrier.wait()
        with gate:
            try:
                return participant_enter(experiment=experiment, external_id=external_id)
            except StudyUnavailable as error:
                return error
            finally:
                connections.close_all()

    with ThreadPoolExecutor(max_workers=len(external_ids)) as pool:
        return list(pool.map(arrive, external_ids))


def study(lists: int, cap: int) -> Experiment:
    """An experiment of `lists` lists of two panels, at most `cap` participants each."""
    experiment = Experiment.objects.create(
        slug="rush", title="Rush", participants_per_list=cap, practice_trials=0
    )
    panels_create(experiment, layer="fc6", units=lists * 2)
    experiment_lists_build(experiment=experiment, lists=lists, seed=0)
    return experiment


def test_simultaneous_arrivals_fill_lists_evenly_within_their_caps():
    experiment = study(7, cap=50)
    ids = [f"p{index}" for index in range(ARRIVALS)]
    results = arrive_all(experiment, ids)
    assert all(isinstance(result, Participant) for result in results)
    fills = Counter(Participant.objects.values_list("trial_list_id", flat=True))
    assert sum(fills.values()) == ARRIVALS
    assert len(fills) == 7
    assert max(fills.values()) - min(fills.values()) <= 1
    assert max(fills.values()) <= 50


def test_a_rush_on_a_nearly_full_study_never_overfills_a_list():
    experiment = study(10, cap=10)
    results = arrive_all(experiment, [f"p{index}" for index in range(ARRIVALS)])
    refused = [result for result in results if isinstance(result, StudyUnavailable)]
    assert len(refused) == ARRIVALS - 100
    assert {error.reason for error in refused} == {"full"}
    fills = Counter(Participant.objects.values_list("trial_list_id", flat=True))
    assert sorted(fills.values()) == [10] * 10


def test_the_same_id_arriving_many_times_at_once_gets_one_assignment():
    experiment = study(4, cap=100)
    ids = [f"p{index % 30}" for index in range(ARRIVALS)]  # each id four times
    results = arrive_all(experiment, ids)
    assert Participant.objects.count() == 30
    by_id = {}
    for external_id, participant in zip(ids, results, strict=True):
        by_id.setdefault(external_id, set()).add((participant.id, participant.trial_list_id))
    assert all(len(assignments) == 1 for assignments in by_id.values())
    fills = Counter(Participant.objects.values_list("trial_list_id", flat=True))
    assert max(fills.values()) - min(fills.values()) <= 1
