"""Score tables as CSV: the columns, writing, and reading with column and range validation."""

import csv
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from analysis.selectivity.activations import REDUCTIONS
from analysis.selectivity.measures import UnitScores
from experiment.files import replaced_whole

KEY_COLUMNS = ["network", "layer", "unit"]
COLUMNS = [
    *KEY_COLUMNS, *(n for n in UnitScores.field_names() if n != "unit"), "compat", "weights_sha256",
    "reduction", "pre_relu",
]  # fmt: skip
REQUIRED = {*KEY_COLUMNS, "n_images"}
NOT_EMPTY = {"precision_k"}  # may be left out (default 60), but a present cell needs a value
BOOLEANS = {"is_dead", "is_localist"}
INTEGERS = {
    "unit",
    "n_images",
    "localist_class",
    "precision_class",
    "precision_k",
    "classes_in_top100",
    "ccmas_class",
    "most_active_class",
    "max_informedness_class",
}
CLASS_COLUMNS = sorted(column for column in INTEGERS if column.endswith("_class"))
TEXT = {"network", "layer", "compat", "weights_sha256", "reduction"}
# The correct definitions; weights, recording not recorded (or an fc layer's reduction).
MAY_BE_EMPTY = {"compat", "weights_sha256", "reduction"}
UNKNOWN_WHEN_EMPTY = {"pre_relu"}  # a true/false that may be unknown
UNIT_INTERVAL = {
    "precision",
    "recall_at_100_precision",
    "recall_at_95_precision",
    "sensitivity",
    "specificity",
    "false_alarm_rate",
}
RANGES = {**dict.fromkeys(UNIT_INTERVAL, (0.0, 1.0)), "max_informedness": (-1.0, 1.0)}
MINIMA = {"unit": 0, "n_images": 2, "precision_k": 1, "classes_in_top100": 1}
MAX_ERRORS = 20
# A dead unit's measures and classes are undefined (docs/measures.md): empty, never 0.
UNDEFINED_WHEN_DEAD = [
    c
    for c in COLUMNS
    if c not in {*KEY_COLUMNS, *TEXT, *UNKNOWN_WHEN_EMPTY, "n_images", "is_dead", "precision_k"}
]


class ScoreTableError(ValueError):
    """A score CSV with missing or unknown columns or out-of-range values; lists the problems."""


def write_scores_csv(path: Path, records: Iterable[dict]) -> int:
    """Write score records (dicts keyed by COLUMNS) to `path`, replacing it whole or not at
    all; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with replaced_whole(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
            count += 1
    return count


def scores_csv_replaceable(path: Path) -> None:
    """ScoreTableError unless `path` is free or holds a score CSV (its first line starts with
    the key columns), which an export may replace: never an activation file or anything else."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise ScoreTableError(f"{path} is a folder: give --csv a file's path.")
    try:
        with path.open("rb") as handle:
            first = handle.readline(4096).decode("utf-8-sig", errors="replace")
    except OSError as error:
        raise ScoreTableError(f"Cannot read {path} to check it is a score CSV: {error}") from None
    if first.strip().split(",")[: len(KEY_COLUMNS)] != KEY_COLUMNS:
        raise ScoreTableError(
            f"{path} exists and is not a score CSV (its first line does not start with "
            f"{','.join(KEY_COLUMNS)}), so it is not replaced: give --csv another path, or move "
            "the file away."
        )


@dataclass(frozen=True)
class NetworkShape:
    """What a network has, for checking scores against it: its classes and layers' units."""

    classes: int
    units: dict[str, int]  # layer -> units


def read_scores_csv(
    path: Path, shape: Callable[[str], NetworkShape | None] = lambda network: None
) -> list[dict]:
    """Score records from a CSV; ScoreTableError listing every problem (up to 20) otherwise.

    `shape(network)` is what the network has (None: not known), so a layer, unit or class
    index it does not have is a problem too (1-based units or classes would put every score
    on the wrong one)."""
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark.
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            _check_header(reader.fieldnames)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ScoreTableError(f"Cannot read {path} as CSV: {error}") from None
    records, problems = _parse_rows(rows)
    problems += _dead_problems(records)
    problems += _shape_problems(records, shape)
    if problems:
        more = f" (and {len(problems) - MAX_ERRORS} more)" if len(problems) > MAX_ERRORS else ""
        raise ScoreTableError(f"{path}: " + "; ".join(problems[:MAX_ERRORS]) + more)
    return records


def _check_header(header: list[str] | None) -> None:
    if not header:
        raise ScoreTableError("The CSV is empty; the first line must name the columns.")
    missing = sorted(REQUIRED - set(header))
    unknown = sorted(set(header) - set(COLUMNS))
    if missing or unknown:
        parts = [f"missing columns: {', '.join(missing)}"] if missing else []
        parts += [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        raise ScoreTableError("; ".join(parts) + f". Known columns: {', '.join(COLUMNS)}.")


def _parse_rows(rows: list[dict]) -> tuple[list[dict], list[str]]:
    records, problems, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        record = {}
        extra = row.pop(None, None)  # csv.DictReader's cells beyond the header's columns
        if extra is not None:
            problems.append(f"line {line}: {len(extra)} more cell(s) than the header has columns")
        for column, text in row.items():
            try:
                record[column] = parse_value(column, (text or "").strip())
            except ValueError as error:
                problems.append(f"line {line}, column {column!r}: {error}")
        key = tuple(record.get(c) for c in KEY_COLUMNS)
        if key in seen:
            problems.append(f"line {line}: unit {key} appears twice")
        seen.add(key)
        records.append(record)
    if not rows:
        problems.append("no score rows after the header")
    return records, problems


def _dead_problems(records: list[dict]) -> list[str]:
    """Rows of dead units with a measure or class filled in (tools that write 0 for them): the
    0s would enter the layer means and a class would be compared with participants' labels."""
    problems = []
    for line, record in enumerate(records, start=2):
        filled = [
            f"{column} {value}"
            for column in UNDEFINED_WHEN_DEAD
            if (value := record.get(column)) is not None and value is not False  # 0 is filled
        ]
        if record.get("is_dead") and filled:
            problems.append(
                f"line {line}: unit {record.get('unit')} is_dead but has {', '.join(filled)}: "
                "a dead unit's measures and classes must be empty"
            )
    return problems


def _shape_problems(records: list[dict], shape: Callable[[str], NetworkShape | None]) -> list[str]:
    problems = []
    for line, record in enumerate(records, start=2):
        network, layer, unit = (record.get(column) for column in ("network", "layer", "unit"))
        known = shape(network) if network else None
        if known is None:
            continue
        if layer is not None and layer not in known.units:
            problems.append(
                f"line {line}: {network} has no layer {layer} (its layers: "
                f"{', '.join(known.units)})"
            )
        elif unit is not None and layer is not None and unit >= known.units[layer]:
            problems.append(
                f"line {line}: unit {unit} is not a unit of {network} {layer}, whose units "
                f"are 0-{known.units[layer] - 1}"
            )
        for column in CLASS_COLUMNS:
            index = record.get(column)
            if index is not None and index >= known.classes:
                problems.append(
                    f"line {line}, column {column!r}: {index} is not a class of "
                    f"{network}, whose classes are 0-{known.classes - 1}"
                )
    return problems


# Network and layer names name folders and admin addresses (selectivity_report, the admin's
# selectivity pages): letters, digits and ". _ -" only, as the stored columns hold them.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
INTEGER_MAX = 2**31 - 1  # what the database's integer columns hold


def name_check(kind: str, text: str) -> str:
    """A network or layer name as scores are stored under; ValueError saying what is wrong."""
    if not NAME_PATTERN.fullmatch(text):
        raise ValueError(
            f"{kind} name {text!r} must be 1-100 letters, digits, '.', '_' or '-' (it names "
            "report folders and admin pages)"
        )
    return text


def parse_value(column: str, text: str):
    """One cell: typed, range-checked; "" is None (measure undefined)."""
    if column in ("network", "layer"):
        return name_check(column, text)
    if column in TEXT:
        if column not in MAY_BE_EMPTY and not text:
            raise ValueError("must not be empty")
        if len(text) > 100:
            raise ValueError(f"{text[:20]!r}... is longer than 100 characters")
        if column == "reduction" and text not in ("", *REDUCTIONS):
            raise ValueError(f"{text!r} is not one of {', '.join(REDUCTIONS)} (or empty)")
        return text
    if not text:
        if column in REQUIRED or column in NOT_EMPTY:
            raise ValueError("must not be empty")
        return False if column in BOOLEANS else None
    if column in BOOLEANS or column in UNKNOWN_WHEN_EMPTY:
        return _parse_bool(text)
    value = _parse_number(column, text)
    _check_range(column, value)
    return value


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(f"{text!r} is not true/false")


def _parse_number(column: str, text: str):
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if math.isnan(value):  # pandas and R write NaN where a measure is undefined
        raise ValueError(f"{text!r} is not a number: leave an undefined measure empty")
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    if column in INTEGERS:
        if not value.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        return int(value)
    return value


def _check_range(column: str, value) -> None:
    low, high = RANGES.get(column, (None, None))
    if low is not None and not low <= value <= high:
        raise ValueError(f"{value} is outside [{low:g}, {high:g}]")
    if column in INTEGERS and value < MINIMA.get(column, 0):
        raise ValueError(f"{value} is below the minimum {MINIMA.get(column, 0)}")
    if column in INTEGERS and value > INTEGER_MAX:
        raise ValueError(f"{value} is above the maximum {INTEGER_MAX}")
