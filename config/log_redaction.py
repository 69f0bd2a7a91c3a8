"""Log records without what would let a log's reader act as a participant.

Participants are known by the token in their pages' paths (/study/<slug>/p/<token>/...), and
the entry link carries their recruitment-site id (?PROLIFIC_PID=..., ?workerId=...). Django logs
the path of every 4xx and 5xx response (django.request), and its runserver every request: the
filter on the console handler replaces both before a record is written.
"""

import logging
import re

_TOKEN = re.compile(r"(/p/)[^/?#\s'\"]+")
_IDS = re.compile(
    r"((?:PROLIFIC_PID|STUDY_ID|SESSION_ID|participant|workerId|assignmentId|hitId)=)"
    r"[^&#\s'\"]*"
)


def redacted(text: str) -> str:
    """`text` with participant tokens and recruitment-site ids replaced."""
    return _IDS.sub(r"\1<id>", _TOKEN.sub(r"\1<token>", text))


class RedactParticipants(logging.Filter):
    """Rewrites a record's message (its arguments merged in) without tokens and ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redacted(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
