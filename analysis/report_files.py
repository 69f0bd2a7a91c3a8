"""The reports' tables as files: Markdown, spreadsheet-safe CSV, and clearing an earlier report.

Shared by the ratings report (`analysis/ratings/report.py`) and the selectivity report
(`analysis/selectivity/report.py`); no Django.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from experiment.spreadsheet import spreadsheet_safe


class ReportFolderError(OSError):
    """The output folder holds files of the report's names that an earlier report did not write
    (an export of the same name, say)."""


def format_cell(value) -> str:
    """A table cell: three significant digits below 10 (p-values, r), else one decimal."""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "–"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
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
        elif pd.api.types.is_string_dtype(dtype):  # object or str columns
            table[column] = table[column].map(spreadsheet_safe)
    return table


def report_files_remove(out_dir: Path, names: Iterable[str]) -> int:
    """Delete the files matching `names` (glob patterns) in out_dir, nothing else, so that none
    of an earlier report's files can pass for part of a new one; returns how many."""
    stale = [path for name in names for path in out_dir.glob(name) if path.is_file()]
    for path in stale:
        path.unlink()
    return len(stale)


def report_write(
    out_dir: Path,
    *,
    names: Iterable[str],
    tables: dict[str, pd.DataFrame],
    markdown: str,
    settings: dict,
    figures: dict[str, bytes],
) -> list[Path]:
    """Write a report into out_dir: `tables` as CSV by file stem, report.md, settings.json and
    the PNG `figures` by file name, after removing the files matching `names` (every name the
    report can write) that an earlier report left; returns the paths written. A folder holding
    such files but no report.md (so no earlier report) is refused: ReportFolderError."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(names)
    foreign = [path.name for name in names for path in out_dir.glob(name) if path.is_file()]
    if foreign and not (out_dir / "report.md").is_file():
        raise ReportFolderError(
            f"{out_dir} holds {', '.join(sorted(foreign))}, which no earlier report wrote (it "
            "has no report.md), and the report would replace them: choose another folder."
        )
    report_files_remove(out_dir, names)
    written = []
    for stem, table in tables.items():
        csv_cells(table).to_csv(out_dir / f"{stem}.csv", index=False, encoding="utf-8")
        written.append(out_dir / f"{stem}.csv")
    (out_dir / "report.md").write_text(markdown, encoding="utf-8")
    (out_dir / "settings.json").write_text(
        json.dumps(settings, indent=2, default=str), encoding="utf-8"
    )
    written += [out_dir / "report.md", out_dir / "settings.json"]
    for name, png in figures.items():
        (out_dir / name).write_bytes(png)
        written.append(out_dir / name)
    return written
