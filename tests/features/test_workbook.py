"""Tables exported as Excel workbooks: the only sheet, or the one named like the table;
date cells read as the timestamps they are."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook

from features import load_dataset, validate_directory
from features.contract import TABLES, Kind
from features.headers import normalize


def _cells(frame: pd.DataFrame, name: str) -> list[list[object]]:
    """The table as a spreadsheet holds it: numbers as numbers, dates as (naive) dates."""
    kinds = {c.name: c.kind for c in TABLES[name].columns}
    typed: dict[str, list[object]] = {}
    for column in frame.columns:
        values = frame[column]
        kind = kinds[normalize(column)]
        if kind is Kind.TIMESTAMP:
            stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None)
            typed[column] = [None if pd.isna(t) else t.to_pydatetime() for t in stamps]
        elif kind in (Kind.COUNT, Kind.AMOUNT):
            numbers = pd.to_numeric(values)
            typed[column] = [None if pd.isna(x) else float(x) for x in numbers]
        else:
            typed[column] = [v or None for v in values]
    return [list(frame.columns), *map(list, zip(*typed.values(), strict=True))]


def _workbook(data: Path, name: str, sheets: tuple[str, ...] = ("Sheet1",)) -> None:
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    book = Workbook()
    book.active.title = sheets[0]
    for other in sheets[1:]:
        book.create_sheet(other)
    target = next((s for s in sheets if s.lower() == name), sheets[0])
    for row in _cells(frame, name):
        book[target].append(row)
    book.save(data / f"{name}.xlsx")
    (data / f"{name}.csv").unlink()


def test_workbooks_load_to_the_clean_files_digest(data: Path, small_csv_dir: Path) -> None:
    _workbook(data, "posts")
    _workbook(data, "placements", sheets=("Notes", "Placements"))
    problems, _ = validate_directory(data)
    assert problems == []
    loaded = load_dataset(data)
    assert loaded.digest() == load_dataset(small_csv_dir).digest()
    assert str(loaded.posts["posted_at"].dtype) == "datetime64[us, UTC]"


def test_a_workbook_without_the_tables_sheet_names_its_sheets(data: Path) -> None:
    _workbook(data, "campaigns", sheets=("Q1", "Q2"))
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "campaigns.xlsx: has the sheets 'Q1', 'Q2' and none is named 'campaigns'; rename the "
        "sheet holding the table to campaigns, or keep only that sheet."
    ]


def test_workbook_problems_are_numbered_as_the_sheet_numbers_rows(data: Path) -> None:
    frame = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    frame.loc[3, "likes"] = "-4"
    frame.to_csv(data / "posts.csv", index=False)
    _workbook(data, "posts")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "posts.xlsx, column 'likes': negative values (expected >= 0) in 1 row: '-4' on row 5."
    ]


def test_two_headers_for_one_column_are_named_as_in_a_csv(data: Path) -> None:
    frame = pd.read_csv(data / "accounts.csv", dtype=str, keep_default_na=False)
    frame.insert(1, "platform ", frame["platform"])  # the same header, but for a space
    frame.to_csv(data / "accounts.csv", index=False)
    _workbook(data, "accounts")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "accounts.xlsx, column 'platform': two headers could be it, 'platform ' and "
        "'platform'; rename or remove one, or map the right one with --columns."
    ]


def test_a_blank_row_inside_the_sheet_keeps_the_rows_below_it_numbered_as_shown(
    data: Path,
) -> None:
    frame = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    frame.loc[3, "likes"] = "-4"
    frame.to_csv(data / "posts.csv", index=False)
    _workbook(data, "posts")
    book = load_workbook(data / "posts.xlsx")
    book.active.insert_rows(3)  # a blank row 3: the bad cell moves from row 5 to row 6
    book.active.append([None] * 3)  # and blank rows after the table, which are dropped
    book.save(data / "posts.xlsx")
    problems, _ = validate_directory(data)
    assert "'-4' on row 6." in "\n".join(str(p) for p in problems)
    assert all("row 3" in str(p) or "'-4'" in str(p) for p in problems), problems


def test_a_file_that_is_not_a_workbook_is_a_problem_not_a_traceback(data: Path) -> None:
    (data / "campaigns.csv").unlink()
    (data / "campaigns.xlsx").write_bytes(b"<html><table><tr><td>campaign_id</td></tr></html>")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "campaigns.xlsx: cannot be read as an Excel workbook: it is not an .xlsx workbook (an "
        "old .xls or a renamed file?); open it in Excel and save it as Excel Workbook (.xlsx) "
        "or CSV UTF-8."
    ]
