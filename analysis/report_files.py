"""The reports' tables as files: Markdown, spreadsheet-safe CSV, and clearing an earlier report.

Shared by the ratings report (`analysis/ratings/report.py`) and the selectivity report
(`analysis/selectivity/report.py`); no Django.
"""

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from experiment.files import file_in_the_way, stops_deferred
from experiment.spreadsheet import spreadsheet_safe

SETTINGS_FILE = "settings.json"  # what made the report, and which kind it is


class ReportFolderError(OSError):
    """The output folder holds files of the report's names that an earlier report did not write
    (an export of the same name, say)."""


def counted(count: int, one: str, many: str) -> str:
    """`count` and the words that agree with it: counted(1, "unit is", "units are")."""
    return f"{count} {one if count == 1 else many}"


def format_cell(value) -> str:
    """A table cell: three significant digits below 10 (p-values, r), else one decimal; a
    whole number, or one that rounds to one, without decimals at any size (a count read from a
    column with gaps is a float: 10.0 would stand beside 3); '–' for a missing value."""
    if value is None or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "–"
        if abs(value) < 10:
            return f"{value:.3g}"  # a whole number shows none: 3
        shown = round(float(value), 1)  # 99.99999 reads 100, as 100.0 does
        return str(int(shown)) if shown.is_integer() and abs(shown) < 1e15 else f"{shown:.1f}"
    return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    header = "| " + " | ".join(markdown_text(c) for c in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    cells = ([markdown_text(format_cell(v)) for v in row] for row in table.itertuples(index=False))
    rows = ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join([header, rule, *rows])


def markdown_text(value) -> str:
    """Text as one Markdown table cell shows it (labels are typed by participants): one line,
    pipes escaped so they do not split the row, and no HTML tags a viewer would act on."""
    return " ".join(str(value).split()).replace("|", "\\|").replace("<", "&lt;")


def csv_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The table's cells as the experiment's exports write them: flags as 0/1, and text escaped
    for spreadsheets (labels and participant ids are typed by participants;
    experiment/spreadsheet.py)."""
    table = table.copy()
    for column, dtype in table.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            table[column] = table[column].astype(int)
        elif _is_flags(table[column]):  # flags with gaps (a decision not taken): 0/1 or empty
            table[column] = table[column].astype("boolean").astype("Int64")
        elif pd.api.types.is_string_dtype(dtype):  # object or str columns
            table[column] = table[column].map(spreadsheet_safe)
    return table


def _is_flags(column: pd.Series) -> bool:
    """An object column whose values are all True, False or missing (some at least not)."""
    if column.dtype != object:
        return False
    values = column.dropna()
    return len(values) > 0 and all(isinstance(v, bool | np.bool_) for v in values)


def report_files_remove(out_dir: Path, names: Iterable[str], keep: set[str] = frozenset()) -> int:
    """Delete the files matching `names` (glob patterns) in out_dir but those in `keep`, nothing
    else, so that none of an earlier report's files can pass for part of a new one; returns how
    many."""
    stale = [
        path
        for name in names
        for path in out_dir.glob(name)
        if path.is_file() and path.name not in keep
    ]
    for path in stale:
        path.unlink()
    return len(stale)


def report_write(
    out_dir: Path,
    *,
    kind: str,
    names: Iterable[str],
    tables: dict[str, pd.DataFrame],
    markdown: str,
    settings: dict,
    figures: dict[str, bytes],
    private: bool = False,
) -> list[Path]:
    """Write a report of `kind` ("ratings", "selectivity") into out_dir: `tables` as CSV by file
    stem, report.md, settings.json (with `"report": kind`) and the PNG `figures` by file name;
    returns the paths written. Other files in out_dir are left alone. `private`: the report
    names participants, so its files are readable by their owner only, as the exports are.

    The files are made in a folder beside out_dir and moved in at the end, under a lock, so a
    report that fails half-way (a full disk, Ctrl-C) leaves the earlier one whole, and two
    runs at once do not mix their files. The files matching `names` (every name the report can
    write) that the earlier report left and this one does not write are removed, so none of
    them (a scatter plot of a measure no longer scored) passes for part of this one. A folder
    holding such files that no report of this kind wrote is refused (report_folder_check).
    """
    names = list(names)
    report_folder_check(out_dir, kind=kind, names=names)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        for stem, table in tables.items():
            csv_cells(table).to_csv(staging / f"{stem}.csv", index=False, encoding="utf-8")
        (staging / "report.md").write_text(markdown, encoding="utf-8")
        for name, png in figures.items():
            (staging / name).write_bytes(png)
        marked = {"report": kind, **settings}
        (staging / SETTINGS_FILE).write_text(
            json.dumps(marked, indent=2, default=str), encoding="utf-8"
        )
        for path in staging.iterdir():
            path.chmod(0o600 if private else 0o644)  # also where umask or an old file differ
        # Ctrl-C while the files are moved would leave the new report's files beside the old
        # one's: it stops the command once they all are.
        with _folder_lock(out_dir), stops_deferred():
            report_folder_check(out_dir, kind=kind, names=names)  # another run may have written
            new = sorted(path.name for path in staging.iterdir())
            # The marker first: a folder left half-moved is still known as this kind's.
            os.replace(staging / SETTINGS_FILE, out_dir / SETTINGS_FILE)
            report_files_remove(out_dir, names, keep=set(new))
            for name in new:
                if name != SETTINGS_FILE:
                    os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in new]


def report_folder_check(out_dir: Path, *, kind: str, names: Iterable[str]) -> None:
    """ReportFolderError when out_dir holds files of the report's `names` that no earlier report
    of this `kind` wrote (the researcher's own notes, another kind of report, an export of the
    same name): the report would replace them. Call it before anything that should not happen
    when the report cannot be written."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportFolderError(f"{out_dir} is a file, not a folder")
    _writable_check(out_dir)
    if not out_dir.is_dir():
        return
    present = sorted({path.name for name in names for path in out_dir.glob(name)})
    if not present:
        return
    marker = out_dir / SETTINGS_FILE
    written_by = _report_kind(marker)
    if written_by != kind:
        if written_by:
            by = f"a {written_by} report wrote (its settings.json says so)"
        elif marker.exists():
            by = "no earlier report wrote (its settings.json is not a report's)"
        else:
            by = "no earlier report wrote (it has no settings.json)"
        raise ReportFolderError(
            f"{out_dir} holds {', '.join(present)}, which {by}, and the {kind} report would "
            "replace them: choose another folder."
        )


def _writable_check(out_dir: Path) -> None:
    """ReportFolderError when out_dir cannot be made (a file in the way) or a folder the report
    is written into refuses new files (out_dir, the folder beside it that the report is staged
    in, or, for a folder not there yet, the nearest one above it that is)."""
    blocking = file_in_the_way(out_dir)
    if blocking is not None:
        raise ReportFolderError(f"{blocking} is a file, not a folder")
    there = next(folder for folder in (out_dir, *out_dir.parents) if folder.is_dir())
    for folder in {there, out_dir.parent if out_dir.is_dir() else there}:
        try:  # a real try: permissions, read-only and special file systems all answer
            os.rmdir(tempfile.mkdtemp(prefix=".report-check-", dir=folder))
        except OSError as error:
            raise ReportFolderError(
                f"{folder} does not take new files ({error.strerror or error})"
            ) from error


def _report_kind(path: Path) -> str | None:
    """The kind of report whose settings.json `path` is, or None for another file."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict):
        return None
    if "report" in settings:
        return str(settings["report"])
    # Written before reports named their kind (2026-11-26): told apart by their settings.
    if "created" in settings and ("experiment" in settings or "network" in settings):
        return "ratings" if "experiment" in settings else "selectivity"
    return None


@contextmanager
def _folder_lock(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on out_dir's lock file while a report is moved in."""
    with open(out_dir / ".report.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
