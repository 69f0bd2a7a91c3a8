"""Validation of one trial's answer (the three questions of appendix 5); no database here."""

import re
from dataclasses import dataclass

Q2_BINS = ("0-20%", "20-40%", "40-60%", "60-80%", "80-100%")
LABEL_MAX_CHARS = 100
Q3_MAX_CHARS = 2 * LABEL_MAX_CHARS + 20  # two labels, their separator and some spaces
RESPONSE_MS_MAX = 2**31 - 1  # what the database column holds (24.8 days)
# Also the full-width comma, semicolon and slash, the ideographic comma and the Arabic comma.
# The trial page checks answers with the same characters and limits (views.study_state).
LABEL_SEPARATOR_CHARS = ",;/\n\uff0c\uff1b\uff0f\u3001\u060c"
LABEL_SEPARATORS = re.compile(f"[{re.escape(LABEL_SEPARATOR_CHARS)}]")
# What is taken off both ends of a label: Python's blanks and the byte-order mark, which the
# trial page's check (JavaScript's \s) takes off too, so both count the same things. (No
# character beyond U+3000, the ideographic space, is a blank.)
LABEL_BLANKS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff"


class AnswerInvalid(ValueError):
    """An answer that cannot be stored; `.message` says what was wrong, for people and JSON."""

    status = 400  # the HTTP status of the refusal

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ParticipantGone(AnswerInvalid):
    """The participant was deleted while their page was open (withdrawn, or a pilot run)."""

    status = 404


class AnswerConflict(AnswerInvalid):
    """A trial already answered otherwise (in another window): the stored answer stands."""

    status = 409


@dataclass(frozen=True)
class Answer:
    """A validated answer, ready to store."""

    q1_yes: bool
    q2_bin: int | None
    q3_first: str
    q3_second: str


def q3_labels(text: str) -> list[str]:
    """Split Q3's text into at most two labels (comma, semicolon, slash or newline between,
    in their Latin, full-width, ideographic or Arabic forms)."""
    if "\x00" in text:
        raise AnswerInvalid("Q3 contains a NUL character; write plain text.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate: JSON allows it, databases do not
        raise AnswerInvalid("Q3 contains a character that is not valid text.") from error
    if len(text) > Q3_MAX_CHARS:
        raise AnswerInvalid(
            f"Q3 is too long: write at most two things of {LABEL_MAX_CHARS} characters."
        )
    labels = [label.strip(LABEL_BLANKS) for label in LABEL_SEPARATORS.split(text)]
    labels = [label for label in labels if label]
    if len(labels) > 2:
        raise AnswerInvalid(f"Q3 names {len(labels)} things; write at most two.")
    for label in labels:
        if len(label) > LABEL_MAX_CHARS:
            raise AnswerInvalid(f"Q3: each thing must be at most {LABEL_MAX_CHARS} characters.")
    return labels


def q1_parse(q1: object) -> bool:
    """Q1 must be 'yes' or 'no'."""
    if not isinstance(q1, str) or q1.strip().lower() not in {"yes", "no"}:
        raise AnswerInvalid("Q1 is required: answer 'yes' or 'no'.")
    return q1.strip().lower() == "yes"


def q2_parse(q2: object) -> int:
    """Q2 is a bin index 0..4 (0-20% ... 80-100%)."""
    if isinstance(q2, bool) or not isinstance(q2, int) or not 0 <= q2 < len(Q2_BINS):
        raise AnswerInvalid(
            f"Q2 must be one of the bins 0..{len(Q2_BINS) - 1} ({', '.join(Q2_BINS)})."
        )
    return q2


def answer_parse(*, q1: object, q2: object, q3: object) -> Answer:
    """Check the three answers against the protocol; raise AnswerInvalid saying what is wrong."""
    if not isinstance(q3, str):
        raise AnswerInvalid("Q3 must be text.")
    if not q1_parse(q1):
        if q2 is not None or q3.strip():
            raise AnswerInvalid("After 'no', Q2 and Q3 must be left empty.")
        return Answer(q1_yes=False, q2_bin=None, q3_first="", q3_second="")
    if q2 is None:
        raise AnswerInvalid("After 'yes', Q2 is required: pick a percentage bin.")
    q2_bin = q2_parse(q2)
    labels = q3_labels(q3)
    if not labels:
        raise AnswerInvalid("After 'yes', Q3 is required: write what you saw.")
    return Answer(True, q2_bin, labels[0], labels[1] if len(labels) > 1 else "")


def response_ms_parse(response_ms: object) -> int:
    """The response time is a whole number of milliseconds the database can hold."""
    if isinstance(response_ms, bool) or not isinstance(response_ms, int):
        raise AnswerInvalid("response_ms must be a whole number of milliseconds.")
    if not 0 <= response_ms <= RESPONSE_MS_MAX:
        raise AnswerInvalid(f"response_ms must be between 0 and {RESPONSE_MS_MAX}.")
    return response_ms
