"""State changes of the experiment app: panels, lists, participants and their answers.

The views, admin and commands call only these functions and the ones in selectors.py. By
concept: `design` (the experiment, panels, lists), `participants` (arrival, places, consent),
`responses` (answers), `exclusions` (who the analysis leaves out).
"""

from experiment.answers import AnswerConflict, AnswerInvalid, ParticipantGone
from experiment.panel_images import PanelImageError, panel_display_bytes, panel_image_open
from experiment.services.design import (
    ListsBuildRefused,
    PanelRefused,
    experiment_create,
    experiment_lists_build,
    panel_refusal_raise,
    panel_register,
    panels_stored_together,
)
from experiment.services.exclusions import (
    EXCLUSION_REASON_MAX_CHARS,
    ExclusionChange,
    participants_exclude,
    participants_include,
)
from experiment.services.participants import (
    StudyUnavailable,
    experiment_lists_locked,
    is_placeholder,
    participant_consent,
    participant_consent_reading,
    participant_decline,
    participant_enter,
    participant_pilot_create,
    participant_seen,
    participants_mturk_assignment_release,
    participants_withdraw,
    trial_order_new,
    withdrawal_digests,
)
from experiment.services.responses import (
    FEEDBACK_MAX_CHARS,
    participant_feedback_save,
    response_record,
)

__all__ = [
    "AnswerConflict",
    "AnswerInvalid",
    "ParticipantGone",
    "EXCLUSION_REASON_MAX_CHARS",
    "ExclusionChange",
    "FEEDBACK_MAX_CHARS",
    "ListsBuildRefused",
    "PanelImageError",
    "PanelRefused",
    "StudyUnavailable",
    "experiment_lists_locked",
    "is_placeholder",
    "experiment_create",
    "experiment_lists_build",
    "panel_display_bytes",
    "panel_image_open",
    "panel_refusal_raise",
    "panel_register",
    "panels_stored_together",
    "participant_consent",
    "participant_consent_reading",
    "participant_decline",
    "participant_enter",
    "participant_feedback_save",
    "participant_pilot_create",
    "participant_seen",
    "participants_exclude",
    "participants_include",
    "participants_withdraw",
    "participants_mturk_assignment_release",
    "response_record",
    "trial_order_new",
    "withdrawal_digests",
]
