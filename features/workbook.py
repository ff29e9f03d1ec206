"""Read one table from an Excel workbook (`NAME.xlsx`), cells as the contract reads text.

A workbook's only sheet holds the table; with several sheets, the sheet named like the
table (`posts`, `Posts`). Cells are read as the spreadsheet shows them after its last
calculation: numbers and words as text (so that the contract's checks and messages
are the CSV's), dates as real timestamps (a date cell without a zone is UTC, as in CSV).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from features.errors import Problem, Rule

__all__ = ["read_workbook"]


def read_workbook(path: Path, table: str) -> tuple[pd.DataFrame | None, Problem | None]:
    """The sheet of `path` holding `table`, as a frame of text and timestamp cells.

    Returns the frame, or a problem naming the sheets when none can be told to be the
    table's, or saying that the sheet is empty. Raises what openpyxl raises for a file
    that is not a workbook (the caller turns it into a problem).
    """
    import zipfile

    from openpyxl import load_workbook  # imported on use: CSV and Parquet readers need none
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, EOFError) as e:
        # An empty file, an old .xls renamed, or a web page saved as .xlsx: not a workbook.
        raise ValueError(
            "it is not an .xlsx workbook (an old .xls or a renamed file?); open it in Excel "
            "and save it as Excel Workbook (.xlsx) or CSV UTF-8"
        ) from e
    try:
        names = list(book.sheetnames)
        if len(names) == 1:
            sheet = names[0]
        else:
            named = [n for n in names if n.strip().lower() == table]
            if len(named) != 1:
                listed = ", ".join(repr(n) for n in names)
                msg = (
                    f"has the sheets {listed} and none is named {table!r}; rename the sheet "
                    f"holding the table to {table}, or keep only that sheet"
                )
                return None, Problem(path.name, None, msg, rule=Rule.NO_SHEET)
            sheet = named[0]
        rows = [list(r) for r in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()
    # Only the blank rows after the table go: one inside it or above it keeps its place,
    # so that every problem names the row the sheet shows.
    while rows and not any(v is not None and str(v).strip() for v in rows[-1]):
        rows.pop()
    if not rows:
        msg = f"has an empty sheet {sheet!r}; expected a header row and rows"
        return None, Problem(path.name, None, msg, rule=Rule.EMPTY_FILE)
    header = _unique(["" if h is None else str(h) for h in rows[0]])
    keep = [i for i, h in enumerate(header) if h.strip()]  # unnamed columns hold nothing
    cells = {header[i]: [_cell(r[i] if i < len(r) else None) for r in rows[1:]] for i in keep}
    return pd.DataFrame(cells, dtype=object), None


def _unique(header: list[str]) -> list[str]:
    """A repeated header numbered as pandas' CSV reader numbers it (`likes`, `likes.1`)."""
    seen: dict[str, int] = {}
    out = []
    for h in header:
        out.append(f"{h}.{seen[h]}" if h and h in seen else h)
        seen[h] = seen.get(h, 0) + 1
    return out


def _cell(value: object) -> object:
    """A cell as the CSV reader would give its text; dates and times as timestamps."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps every number as a float: 8200.0 was typed 8200
    return str(value)
