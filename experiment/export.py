"""The responses CSV: one row per response, the columns researchers analyse."""

import csv
from typing import TextIO

from experiment.models import Experiment, Response
from experiment.selectors import experiment_responses, participant_state

CSV_COLUMNS = [
    "participant_id",
    "external_id",
    "prolific_study_id",
    "prolific_session_id",
    "participant_status",
    "is_synthetic",
    "excluded",
    "list",
    "trial_index",
    "panel_id",
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
    participant, panel = response.participant, response.panel
    return [
        participant.id,
        participant.external_id,
        participant.prolific_study_id,
        participant.prolific_session_id,
        participant_state(participant=participant),
        int(participant.is_synthetic),
        int(participant.excluded),
        participant.trial_list.number if participant.trial_list else "",
        response.trial_index,
        panel.id,
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


def responses_csv_write(*, experiment: Experiment, stream: TextIO) -> int:
    """Write the experiment's responses as CSV to `stream`; return how many rows were written."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for response in experiment_responses(experiment=experiment).iterator(chunk_size=2000):
        writer.writerow(response_row(response))
        count += 1
    return count
