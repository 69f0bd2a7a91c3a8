"""Many participants arriving at once on PostgreSQL: caps hold, fills stay level, no duplicates;
a withdrawal racing a return.

Each arrival runs in its own thread with its own database connection. PostgreSQL's default
max_connections is 100, so at most CONNECTIONS arrivals talk to the database at one moment;
all ARRIVALS threads are started together behind a barrier.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

import experiment.services.participants as participants_module
from experiment.models import Experiment, Participant, Withdrawal
from experiment.services import (
    ParticipantGone,
    StudyUnavailable,
    experiment_lists_build,
    participant_consent,
    participant_enter,
    participant_seen,
    participants_withdraw,
)
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


def lock_waiters(count: int, timeout: float = 10.0) -> bool:
    """Wait until `count` connections of this database wait on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return True
            time.sleep(0.02)
    return False


def test_a_withdrawal_and_the_same_participant_coming_back_after_a_lapse_do_not_deadlock(
    monkeypatch,
):
    """The withdrawal pauses once it holds its locks; the return queues behind it and then
    finds the participant gone (a 404 page), rather than one of them failing in a deadlock."""
    experiment = study(2, cap=5)
    participant = participant_enter(experiment=experiment, external_id="p1")
    participant_consent(participant=participant)
    lapsed = timezone.now() - timedelta(hours=2)  # no answer: the return takes a place again
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=lapsed)
    locked, go_on, outcomes = threading.Event(), threading.Event(), {}
    real_key = participants_module.pseudonym_key

    def key_once_locked():  # the withdrawal reads the key once it holds its locks
        if threading.current_thread().name == "withdraw":
            locked.set()
            go_on.wait(10)
        return real_key()

    monkeypatch.setattr(participants_module, "pseudonym_key", key_once_locked)

    def run(name, work):
        try:
            outcomes[name] = work(Participant.objects.get(pk=participant.pk))
        except Exception as error:  # noqa: BLE001  (the outcome is what the test checks)
            outcomes[name] = error
        finally:
            connections.close_all()

    withdraw = threading.Thread(
        target=run,
        name="withdraw",
        args=("withdraw", lambda p: participants_withdraw(participants=[p])),
    )
    come_back = threading.Thread(
        target=run, args=("return", lambda p: participant_seen(participant=p))
    )
    withdraw.start()
    assert locked.wait(10)
    come_back.start()
    assert lock_waiters(1)
    go_on.set()
    withdraw.join(20)
    come_back.join(20)
    assert outcomes["withdraw"] is None
    assert isinstance(outcomes["return"], ParticipantGone), outcomes["return"]
    assert not Participant.objects.exists() and Withdrawal.objects.count() == 1
