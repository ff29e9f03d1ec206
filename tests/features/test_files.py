"""A table's file found and read as exported: other delimiters, names in other case, text
that is not UTF-8 located in the file itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features import load_dataset, validate_directory


def _frame(data: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize(("sep", "named"), [(";", "semicolons (;)"), ("\t", "tabs")])
def test_a_consistent_delimiter_is_read_with_a_note(
    data: Path, small_csv_dir: Path, sep: str, named: str
) -> None:
    _frame(data, "posts").to_csv(data / "posts.csv", index=False, sep=sep)
    _frame(data, "campaigns").to_csv(data / "campaigns.csv", index=False, sep="|")
    problems, warnings = validate_directory(data)
    assert problems == []
    assert [str(w) for w in warnings[:2]] == [
        f"posts.csv: is delimited by {named}, not commas; read as such.",
        "campaigns.csv: is delimited by vertical bars (|), not commas; read as such.",
    ]
    assert load_dataset(data).digest() == load_dataset(small_csv_dir).digest()


def test_an_inconsistent_delimiter_is_one_error_naming_it(data: Path) -> None:
    lines = _frame(data, "placements").to_csv(index=False, sep=";").splitlines()
    lines[4] = lines[4].replace(";", ",", 2)
    lines[9] += ";x"
    (data / "placements.csv").write_text("\n".join(lines) + "\n")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "placements.csv: is delimited by semicolons (;), but 2 lines (5, 10) have another "
        "number of fields than the header's 9; export it again with one delimiter."
    ]


def test_a_file_named_in_other_case_is_found_with_a_note(data: Path, small_csv_dir: Path) -> None:
    (data / "posts.csv").rename(data / "Posts.csv")
    (data / "accounts.csv").rename(data / "ACCOUNTS.CSV")
    problems, warnings = validate_directory(data)
    assert problems == []
    assert [str(w) for w in warnings[:2]] == [
        "ACCOUNTS.CSV: read as the accounts table; the contract names it accounts.csv.",
        "Posts.csv: read as the posts table; the contract names it posts.csv.",
    ]
    assert load_dataset(data).digest() == load_dataset(small_csv_dir).digest()


def test_two_files_that_could_be_one_table_are_named(data: Path) -> None:
    shutil.copy(data / "posts.csv", data / "Posts.csv")
    if not (data / "posts.csv").samefile(data / "Posts.csv"):  # a case-sensitive file system
        problems, _ = validate_directory(data)
        assert [str(p) for p in problems] == [
            f"posts.csv: both Posts.csv and posts.csv exist in {data}; keep only one."
        ]


def test_windows_1252_bytes_are_located_in_the_file(data: Path) -> None:
    text = (data / "campaigns.csv").read_text()
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ",Café ", 1)
    (data / "campaigns.csv").write_bytes("".join(lines).encode("cp1252"))
    offset = len("".join(lines[:3]).encode()) + lines[3].index("é")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        f"campaigns.csv: is not UTF-8 text (byte 0xE9 at byte offset {offset}, line 4); it "
        "looks like Windows-1252, where 0xE9 is 'é': re-save it as UTF-8 (in Excel: File > "
        'Save As, file format "CSV UTF-8 (Comma delimited)").'
    ]


def test_utf16_is_named_with_the_fix(data: Path) -> None:
    (data / "accounts.csv").write_bytes((data / "accounts.csv").read_text().encode("utf-16"))
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "accounts.csv: is UTF-16 text, not UTF-8; re-save it as UTF-8 (in Excel: File > "
        'Save As, file format "CSV UTF-8 (Comma delimited)").'
    ]
