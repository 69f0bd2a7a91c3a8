"""The CSV exports: one row per response (what researchers analyse), or per participant (what
the recruitment site's approval needs)."""

import csv
import hashlib
import hmac
import os
import secrets
from functools import partial
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count

from experiment.models import VISIT_ID_FIELDS, Experiment, Participant, Response, Withdrawal
from experiment.selectors import participant_state
from experiment.spreadsheet import spreadsheet_safe

# The recruitment site's ids of a participant, and free text about them (their comment, the
# reason a researcher excluded them): personal data, or may be. So is the browser's user agent:
# its operating system and browser versions, and on Android the phone's model, tell a few people
# apart, and with the exact times kept it could single one out; the analysis needs none of it.
# Anonymous exports (a data set to publish) leave them out and name participants by
# participant_pseudonym.
PERSONAL_COLUMNS = ("external_id", *VISIT_ID_FIELDS, "exclusion_reason", "feedback", "user_agent")


def participant_pseudonym(participant_id: int, *, key: bytes) -> str:
    """The name of a participant in anonymous exports and reports (an HMAC of the database id
    with `key`, from pseudonym_key): the same in every file and every export, not sequential,
    and not traceable to the database without the key."""
    digest = hmac.new(key, f"participant:{participant_id}".encode(), hashlib.sha256).hexdigest()
    return f"P{digest[:12]}"


def external_id_digest(external_id: str, *, key: bytes) -> str:
    """A withdrawn participant's id as it is kept (Withdrawal): an HMAC with `key`, from
    pseudonym_key, so the id itself is not stored, yet the same id is recognised."""
    return hmac.new(key, f"external-id:{external_id}".encode(), hashlib.sha256).hexdigest()


def pseudonym_key() -> bytes:
    """The installation's key for participant_pseudonym: settings.PSEUDONYM_KEY, else a random
    key kept in VAR_DIR/pseudonym-key (made on first use, readable by its owner only). Never
    SECRET_KEY, which is public in development: pseudonyms made with it could be undone by
    trying every id."""
    if settings.PSEUDONYM_KEY:
        return _key_of_withdrawals(
            _key_checked(settings.PSEUDONYM_KEY, "DJANGO_PSEUDONYM_KEY"), "DJANGO_PSEUDONYM_KEY"
        )
    path = Path(settings.VAR_DIR) / "pseudonym-key"
    if not path.exists():
        if Withdrawal.objects.exists():
            # A new key would recognise no withdrawn id: they could all take part again.
            raise ImproperlyConfigured(
                f"The pseudonym key {path} is missing, and the withdrawals stored in the "
                "database were made with it: restore it from your backup (or set "
                "DJANGO_PSEUDONYM_KEY to it). A new key would let every withdrawn participant "
                "in again."
            )
        try:
            _key_file_make(path)
        except OSError as error:  # a full or read-only VAR_DIR, say: name the key's file
            raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        key = path.read_text()
    except PermissionError:
        raise ImproperlyConfigured(
            f"The pseudonym key {path} cannot be read by this user: it is readable by its "
            "owner only, and another user made it. Run the site and every manage.py command as "
            "the same user (docs/deploy.md), or give that user the file."
        ) from None
    return _key_of_withdrawals(_key_checked(key, str(path)), str(path))


def _key_file_make(path: Path) -> None:
    """A new random key in `path`, unless another process makes one meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked in place: a process that finds the key
    # file never reads it half-written (os.link fails where another made it first).
    fresh = path.with_name(f".pseudonym-key-{secrets.token_hex(8)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_hex(32))
            stream.flush()
            os.fsync(stream.fileno())
        os.link(fresh, path)
    except FileExistsError:  # another process made it meanwhile
        pass
    finally:
        fresh.unlink()


def key_fingerprint(key: bytes) -> str:
    """What tells pseudonym keys apart without giving them away (Withdrawal.key_check)."""
    return hmac.new(key, b"pseudonym-key-check", hashlib.sha256).hexdigest()[:16]


def _key_of_withdrawals(key: bytes, source: str) -> bytes:
    """The key, unless withdrawals were stored with another one (a restore with another env
    file or key file, a change from one to the other): none of their ids would be recognised
    then, and every withdrawn participant could take part again."""
    other = Withdrawal.objects.exclude(key_check="").exclude(key_check=key_fingerprint(key))
    if other.exists():
        raise ImproperlyConfigured(
            f"The pseudonym key in {source} is not the one the stored withdrawals were made "
            "with: restore that key from your backup (DJANGO_PSEUDONYM_KEY, or the file "
            "pseudonym-key in DJANGO_VAR_DIR). With this one every withdrawn participant could "
            "take part again, and anonymous exports would name participants otherwise."
        )
    return key


PSEUDONYM_KEY_MIN_CHARS = 32


def _key_checked(key: str, source: str) -> bytes:
    """The key as bytes; ImproperlyConfigured for one too short to keep pseudonyms secret
    (an empty or cut-off file, say): every id could then be tried."""
    key = key.strip()
    if len(key) < PSEUDONYM_KEY_MIN_CHARS:
        raise ImproperlyConfigured(
            f"The pseudonym key in {source} has {len(key)} characters; it needs at least "
            f"{PSEUDONYM_KEY_MIN_CHARS} random ones (restore it from your backup: the "
            "pseudonyms of earlier exports and the withdrawals depend on it)."
        )
    return key.encode()


# Who the participant is, their state and list: the first columns of both exports.
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


def responses_csv_write(*, experiment: Experiment, stream: TextIO, anonymous: bool = False) -> int:
    """Write the experiment's responses as CSV to `stream`, in participant and trial order;
    return how many rows were written. `anonymous`: a data set to publish, of real
    participants only (no pilot run nor simulated one), without PERSONAL_COLUMNS.

    Each participant's and each panel's cells are made once, not for each of their rows (a
    study has some 20,000 answers of a few hundred participants), and the panels' generator
    records are not read."""
    participants = experiment.participants.select_related("experiment", "trial_list")
    if anonymous:
        participants = participants.filter(is_pilot=False, is_synthetic=False)
    people = {p.pk: participant_cells(p) for p in participants.defer("trial_order")}
    panels = {p.pk: p for p in experiment.panels.defer("metadata")}
    q2_labels = dict(Response.Q2Bin.choices)
    # Their ids, not the query again: participants who enter meanwhile have no cells here.
    responses = Response.objects.filter(participant_id__in=list(people)).order_by(
        "participant__started_at", "participant_id", "trial_index"
    )
    fields = ["participant_id", "panel_id", "trial_index", "is_practice", "q1_yes", "q2_bin"]
    fields += ["q3_first", "q3_second", "response_ms", "created_at"]
    rows = (
        [
            *people[person],
            index,
            panel_id,
            (panel := panels[panel_id]).source,
            panel.network,
            panel.layer,
            "" if panel.unit is None else panel.unit,
            int(practice),
            panel.intended_answer,
            "yes" if yes else "no",
            "" if q2 is None else q2,
            "" if q2 is None else q2_labels[q2],
            first,
            second,
            ms,
            answered_at.isoformat(),
        ]
        for person, panel_id, index, practice, yes, q2, first, second, ms, answered_at in (
            responses.values_list(*fields).iterator(chunk_size=2000)
        )
    )
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
    # Added last, so files read by column position before they came keep their columns.
    "user_agent",
    "entry",
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
        participant.user_agent,
        participant.entry,
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
    if anonymous:  # people who never consented are not published, not even their visit
        participants = participants.filter(
            is_pilot=False, is_synthetic=False, consented_at__isnull=False
        )
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
    pseudonym = partial(participant_pseudonym, key=pseudonym_key()) if anonymous else None
    count = 0
    for row in rows:
        if pseudonym:
            row[named] = pseudonym(row[named])
        writer.writerow([spreadsheet_safe(row[i]) for i in kept])
        count += 1
    return count
