"""Values a spreadsheet writes for people: each problem shows the offending cells with their
lines and names the likely cause and fix; nothing is reinterpreted but day-first dates, and
those only under --dayfirst."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features import DataContractError, load_dataset, validate_directory
from features.headers import read_options


def _edit(data: Path, name: str, cells: dict[tuple[int, str], str]) -> None:
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row, column] = value
    frame.to_csv(data / f"{name}.csv", index=False)


def _messages(data: Path, dayfirst: bool = False) -> list[str]:
    problems, _ = validate_directory(data, options=read_options(None, dayfirst))
    return [str(p) for p in problems]


def test_one_pass_names_every_broken_value_with_its_cause(data: Path) -> None:
    _edit(data, "posts", {(0, "followers"): "8,200", (1, "followers"): "8.2K"})
    _edit(data, "posts", {(2, "followers"): "12,000", (5, "followers"): "1.5M"})
    _edit(data, "posts", {(3, "likes"): "4,5"})
    _edit(data, "placements", {(0, "cost"): "$120", (1, "cost"): "€90"})
    _edit(data, "campaigns", {(0, "starts_at"): "25/03/2025"})
    assert _messages(data) == [
        "posts.csv, column 'followers': values that are not a whole number >= 0 in 4 rows: "
        "'8,200' on line 2, '8.2K' on line 3, '12,000' on line 4, and 1 more (line 7); likely "
        "thousands separators (8,200): export the numbers without them (8200); or abbreviated "
        "numbers (8.2K): export the full numbers (K and M are not read: 8.2K may stand for "
        "anything from 8,150 to 8,249).",
        "posts.csv, column 'likes': values that are not a whole number >= 0 in 1 row: '4,5' on "
        "line 5; likely decimal commas (4,5): export numbers with a decimal point (4.5).",
        "campaigns.csv, column 'starts_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row: '25/03/2025' on line 2; likely day-first dates "
        "(25/03/2025): pass --dayfirst to read them as day/month/year, or export ISO-8601 "
        "dates (2026-03-25).",
        "placements.csv, column 'cost': values that are not a number >= 0 in 2 rows: '$120' on "
        "line 2, '€90' on line 3; likely currency symbols ($120): export plain numbers (120), "
        "one currency per column.",
    ]


def test_more_than_three_rows_show_three_values_and_the_next_lines(data: Path) -> None:
    _edit(data, "posts", {(r, "shares"): f"{r + 1},200" for r in range(7)})
    assert _messages(data) == [
        "posts.csv, column 'shares': values that are not a whole number >= 0 in 7 rows: "
        "'1,200' on line 2, '2,200' on line 3, '3,200' on line 4, and 4 more (lines 5, 6, ...); "
        "likely thousands separators (1,200): export the numbers without them (1200)."
    ]


def test_numbers_are_never_guessed_even_with_dayfirst(data: Path) -> None:
    _edit(data, "posts", {(0, "followers"): "8.2K"})
    with pytest.raises(DataContractError, match=r"'8\.2K' on line 2"):
        load_dataset(data, read_options(None, dayfirst=True))


def test_day_first_dates_load_under_dayfirst_as_their_iso_dates(data: Path) -> None:
    iso = data.parent / "iso"
    shutil.copytree(data, iso)
    dates = {0: ("25/03/2025", "2025-03-25"), 1: ("26.03.2025 14:30", "2025-03-26T14:30:00")}
    _edit(data, "campaigns", {(r, "starts_at"): day for r, (day, _) in dates.items()})
    _edit(iso, "campaigns", {(r, "starts_at"): day for r, (_, day) in dates.items()})
    assert len(_messages(data)) == 1
    assert _messages(data, dayfirst=True) == []
    assert load_dataset(data, read_options(None, True)).digest() == load_dataset(iso).digest()


def test_an_impossible_date_gets_no_day_first_advice(data: Path) -> None:
    _edit(data, "campaigns", {(0, "starts_at"): "31/02/2025"})
    for dayfirst in (False, True):
        assert _messages(data, dayfirst) == [
            "campaigns.csv, column 'starts_at': values that are not an ISO-8601 timestamp such "
            "as 2025-03-01T12:00:00Z in 1 row: '31/02/2025' on line 2."
        ]
