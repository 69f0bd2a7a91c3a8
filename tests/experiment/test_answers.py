"""The pure answer rules: any input is either a valid Answer or an AnswerInvalid, never a crash."""

from hypothesis import given
from hypothesis import strategies as st

from experiment.answers import (
    LABEL_MAX_CHARS,
    Answer,
    AnswerInvalid,
    answer_parse,
    q3_labels,
    response_ms_parse,
)

ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=300), st.binary()
)


@given(q1=ANYTHING, q2=ANYTHING, q3=ANYTHING)
def test_any_input_is_an_answer_or_a_clear_refusal(q1, q2, q3):
    try:
        answer = answer_parse(q1=q1, q2=q2, q3=q3)
    except AnswerInvalid as error:
        assert error.message
        return
    assert isinstance(answer, Answer)
    if answer.q1_yes:
        assert answer.q2_bin in range(5) and answer.q3_first
    else:
        assert answer.q2_bin is None and not answer.q3_first


@given(st.lists(st.text(alphabet="abc xyz", min_size=1, max_size=LABEL_MAX_CHARS), max_size=4))
def test_labels_round_trip_up_to_two(labels):
    text = ", ".join(labels)
    stripped = [label.strip() for label in labels if label.strip()]
    if len(stripped) > 2:
        try:
            q3_labels(text)
        except AnswerInvalid as error:
            assert "at most two" in error.message or "too long" in error.message
            return
        raise AssertionError("three labels were accepted")
    assert q3_labels(text) == stripped


@given(ANYTHING)
def test_response_times_are_whole_milliseconds_in_range(value):
    try:
        assert response_ms_parse(value) == value
    except AnswerInvalid as error:
        assert "response_ms" in error.message
