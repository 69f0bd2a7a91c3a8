"""Random payloads at the answer endpoint: always a clear 2xx/4xx JSON reply, never a 500."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiment.models import Response
from tests.experiment.test_views import consented, study_make, url

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def bodies(panel_ids: list[int]):
    """Request bodies: answer-shaped JSON (sometimes with a real panel id), any JSON, any bytes."""
    answer_like = st.fixed_dictionaries(
        {},
        optional={
            "trial_index": json_values | st.integers(min_value=-3, max_value=6),
            "panel_id": json_values | st.sampled_from(panel_ids),
            "q1": json_values | st.sampled_from(["yes", "no", "YES", " no ", ""]),
            "q2": json_values | st.integers(min_value=-2, max_value=6),
            "q3": json_values | st.sampled_from(["fish", "a, b", "a;b;c", "x" * 101, ""]),
            "response_ms": json_values | st.integers(min_value=-(2**40), max_value=2**40),
        },
    )
    return (
        answer_like.map(lambda payload: json.dumps(payload).encode())
        | json_values.map(lambda value: json.dumps(value).encode())
        | st.binary(max_size=300)
    )


@pytest.fixture
def participant(tmp_path, db):
    """One consenting participant, shared by every generated example."""
    study_make(tmp_path, practice_trials=2)
    return consented(Client())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_payloads_never_cause_a_server_error(participant, data):
    body = data.draw(bodies(participant.trial_order))
    client = Client()
    before = Response.objects.count()
    reply = client.post(url(participant, "answer"), body, content_type="application/json")
    assert reply.status_code in {200, 400, 409}, (body, reply.content)  # 409: answered otherwise
    if reply.status_code != 200:
        assert reply.json()["error"]
        assert Response.objects.count() == before
