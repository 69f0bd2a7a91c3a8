"""The CSV exports: one row per response (what researchers analyse), or per participant (what
the recruitment site's approval needs)."""

import csv
import hashlib
import hmac
from typing import TextIO

from django.conf import settings
from django.db.models import Count

from experiment.models import Experiment, Participant, Response
from experiment.selectors import experiment_responses, participant_state
from experiment.spreadsheet import spreadsheet_safe

# Who the participant is, their state and list: the first columns of both exports.
# The recruitment site's ids of a participant, and free text about them (their comment, the
# reason a researcher excluded them): personal data, or may be. Anonymous exports (a data set to
# publish) leave them out and name participants by participant_pseudonym.
PERSONAL_COLUMNS = (
    "external_id",
    "prolific_study_id",
    "prolific_session_id",
    "mturk_assignment_id",
    "mturk_hit_id",
    "exclusion_reason",
    "feedback",
)


def participant_pseudonym(participant_id: int) -> str:
    """The name of a participant in anonymous exports and reports: the same in every file and
    every export, not sequential, and not traceable to the database id without the site's
    SECRET_KEY (an HMAC of the id)."""
    key = settings.SECRET_KEY.encode()
    digest = hmac.new(key, f"participant:{participant_id}".encode(), hashlib.sha256).hexdigest()
    return f"P{digest[:12]}"


PARTICIPANT_CELL_COLUMNS = [
    "participant_id",
    "external_id",
    "prolific_study_id",
    "prolific_session_id",
    "mturk_assignment_id",
    "mturk_hit_id",
    "participant_status",
    "is_synthetic",
    "is_pilot",
    "excluded",
    "exclusion_reason",
    "list",
]
CSV_COLUMNS = [
    *PARTICIPANT_CELL_COLUMNS,
    "trial_index",
    "panel_id",
    "panel_source",
    "network",
    "layer",
    "unit",
    "is_practice",
    "intended_answer",
    "q1",
    "q2_bin",
    "q2_label",
    "q3_first",
    "q3_second",
    "response_ms",
    "answered_at",
]


def response_row(response: Response) -> list:
    """One CSV row; empty cells for what does not apply (no unit on practice panels, etc.)."""
    panel = response.panel
    return [
        *participant_cells(response.participant),
        response.trial_index,
        panel.id,
        panel.source,
        panel.network,
        panel.layer,
        "" if panel.unit is None else panel.unit,
        int(response.is_practice),
        panel.intended_answer,
        "yes" if response.q1_yes else "no",
        "" if response.q2_bin is None else response.q2_bin,
        response.get_q2_bin_display() if response.q2_bin is not None else "",
        response.q3_first,
        response.q3_second,
        response.response_ms,
        response.created_at.isoformat(),
    ]


def responses_csv_write(*, experiment: Experiment, stream: TextIO, anonymous: bool = False) -> int:
    """Write the experiment's responses as CSV to `stream`; return how many rows were written.
    `anonymous`: without PERSONAL_COLUMNS and without pilot runs (a data set to publish)."""
    responses = experiment_responses(experiment=experiment)
    if anonymous:
        responses = responses.filter(participant__is_pilot=False)
    rows = map(response_row, responses.iterator(chunk_size=2000))
    return rows_csv_write(stream, CSV_COLUMNS, rows, anonymous=anonymous)


PARTICIPANT_COLUMNS = [
    *PARTICIPANT_CELL_COLUMNS,
    "answered",
    "trials",
    "started_at",
    "consented_at",
    "last_seen_at",
    "completed_at",
    "minutes",
    "feedback",
]


def participant_row(participant: Participant) -> list:
    """One CSV row; `minutes` from start to completion (empty until completed)."""
    minutes = ""
    if participant.completed_at is not None:
        minutes = round((participant.completed_at - participant.started_at).total_seconds() / 60, 1)
    return [
        *participant_cells(participant),
        participant.answered,
        len(participant.trial_order),
        participant.started_at.isoformat(),
        participant.consented_at.isoformat() if participant.consented_at else "",
        participant.last_seen_at.isoformat(),
        participant.completed_at.isoformat() if participant.completed_at else "",
        minutes,
        participant.feedback,
    ]


def participant_cells(participant: Participant) -> list:
    """PARTICIPANT_CELL_COLUMNS of a participant."""
    return [
        participant.id,
        participant.external_id,
        participant.prolific_study_id,
        participant.prolific_session_id,
        participant.mturk_assignment_id,
        participant.mturk_hit_id,
        participant_state(participant=participant),
        int(participant.is_synthetic),
        int(participant.is_pilot),
        int(participant.excluded),
        participant.exclusion_reason,
        participant.trial_list.number if participant.trial_list else "",
    ]


def participants_csv_write(
    *, experiment: Experiment, stream: TextIO, anonymous: bool = False
) -> int:
    """Write the experiment's participants as CSV to `stream`; return how many rows.
    `anonymous`: as for responses_csv_write."""
    participants = (
        experiment.participants.select_related("experiment", "trial_list")
        .annotate(answered=Count("responses"))
        .order_by("started_at", "id")
    )
    if anonymous:
        participants = participants.filter(is_pilot=False)
    rows = map(participant_row, participants)
    return rows_csv_write(stream, PARTICIPANT_COLUMNS, rows, anonymous=anonymous)


def rows_csv_write(stream: TextIO, columns: list[str], rows, *, anonymous: bool = False) -> int:
    """A header and the rows, as CSV (text that would run as a spreadsheet formula escaped, see
    experiment/spreadsheet.py); when `anonymous`, without PERSONAL_COLUMNS and with
    participant_pseudonym for participant_id. Returns how many rows."""
    kept = [i for i, name in enumerate(columns) if not (anonymous and name in PERSONAL_COLUMNS)]
    writer = csv.writer(stream)
    writer.writerow([columns[i] for i in kept])
    named = columns.index("participant_id")
    count = 0
    for row in rows:
        if anonymous:
            row = [*row[:named], participant_pseudonym(row[named]), *row[named + 1 :]]
        writer.writerow([spreadsheet_safe(row[i]) for i in kept])
        count += 1
    return count
