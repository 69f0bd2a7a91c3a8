"""What participants are asked, and the parsing of what their browsers send back."""

import json
from dataclasses import dataclass

from experiment.answers import Q2_BINS, AnswerInvalid
from experiment.models import Participant

# The wording of the three questions (paper, appendix 5, figure 6).
QUESTIONS = {
    "q1": "Can you identify multiple examples of an everyday object, place or animal?",
    "q2": "You answered 'Yes'. "
    "Indicate what percentage of people you think would also answer 'Yes'",
    "q3": "Please write which everyday object, place or animal you were referring to",
    "bins": list(enumerate(Q2_BINS)),
}
# The example answer of figure 6, used when no practice panel has an intended label.
EXAMPLE_LABEL = "fish, goldfish"
ANSWER_BODY_MAX_BYTES = 4096  # a full answer with two 100-character labels is ~400 bytes

# Query-string names of the participant id, in order of preference (Prolific's first), and
# how a participant who came with each entered (where their completion page sends them).
EXTERNAL_ID_PARAMETERS = {
    "PROLIFIC_PID": Participant.Entry.PROLIFIC,
    "participant": Participant.Entry.LINK,
    "workerId": Participant.Entry.WORKER_LINK,
}


@dataclass(frozen=True)
class AnswerPayload:
    """One trial's answer as sent by the trial page (types are checked by response_record)."""

    trial_index: object
    panel_id: object
    q1: object
    q2: object
    q3: object
    response_ms: object


def answer_payload_parse(body: bytes) -> AnswerPayload:
    """Decode the JSON body of an answer; raise AnswerInvalid saying what is wrong with it."""
    if len(body) > ANSWER_BODY_MAX_BYTES:
        raise AnswerInvalid(f"The answer is too large (more than {ANSWER_BODY_MAX_BYTES} bytes).")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise AnswerInvalid("The answer must be a JSON object.") from error
    if not isinstance(payload, dict):
        raise AnswerInvalid("The answer must be a JSON object.")
    missing = [
        key for key in ("trial_index", "panel_id", "q1", "response_ms") if key not in payload
    ]
    if missing:
        raise AnswerInvalid(f"The answer lacks {', '.join(missing)}.")
    q3 = payload.get("q3")
    return AnswerPayload(
        trial_index=payload["trial_index"],
        panel_id=payload["panel_id"],
        q1=payload.get("q1"),
        q2=payload.get("q2"),
        q3="" if q3 is None else q3,
        response_ms=payload["response_ms"],
    )


def external_ids_from_query(query) -> dict[str, str]:
    """The participant id, how they entered, and Prolific's study and session ids from a
    QueryDict."""
    name = next((name for name in EXTERNAL_ID_PARAMETERS if query.get(name, "").strip()), None)
    return {
        "external_id": query[name] if name else "",
        "entry": EXTERNAL_ID_PARAMETERS[name] if name else "",
        "prolific_study_id": query.get("STUDY_ID", ""),
        "prolific_session_id": query.get("SESSION_ID", ""),
    }
