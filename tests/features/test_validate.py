"""Every rule of the data contract, each on a file broken on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import DataContractError, load_dataset, validate_directory
from features.errors import Problem, Rule


def read(data: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)


def write(data: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(data / f"{name}.csv", index=False)


def messages(data: Path) -> list[str]:
    problems, _ = validate_directory(data)
    return [str(p) for p in problems]


def test_simulated_world_is_valid(data: Path) -> None:
    problems, _ = validate_directory(data)
    assert problems == []
    ds = load_dataset(data)
    assert str(ds.posts["posted_at"].dtype) == "datetime64[us, UTC]"
    assert ds.posts["likes"].dtype == "float64"


def test_negative_count_names_file_column_and_lines(data: Path) -> None:
    posts = read(data, "posts")
    posts.loc[[2, 7], "likes"] = "-4"
    write(data, "posts", posts)
    assert messages(data) == [
        "posts.csv, column 'likes': negative values (expected >= 0) in 2 rows: '-4' on line 4, "
        "'-4' on line 9."
    ]


def test_unknown_account_id(data: Path) -> None:
    placements = read(data, "placements")
    placements.loc[0, "account_id"] = "nobody"
    write(data, "placements", placements)
    assert messages(data) == [
        "placements.csv, column 'account_id': ids that are not in accounts.csv in 1 row (line 2)."
    ]


def test_unknown_campaign_id(data: Path) -> None:
    placements = read(data, "placements")
    placements.loc[3, "campaign_id"] = "c9999"
    write(data, "placements", placements)
    assert messages(data) == [
        "placements.csv, column 'campaign_id': ids that are not in campaigns.csv in 1 row (line 5)."
    ]


def test_missing_column(data: Path) -> None:
    write(data, "campaigns", read(data, "campaigns").drop(columns=["topic"]))
    assert messages(data) == ["campaigns.csv, column 'topic': missing; the contract requires it."]


def test_unparseable_timestamp(data: Path) -> None:
    posts = read(data, "posts")
    posts.loc[10, "posted_at"] = "yesterday"
    write(data, "posts", posts)
    assert messages(data) == [
        "posts.csv, column 'posted_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row: 'yesterday' on line 12."
    ]


def test_all_four_problems_reported_at_once(data: Path) -> None:
    posts = read(data, "posts")
    posts.loc[0, "likes"] = "-1"
    posts.loc[1, "posted_at"] = "not a date"
    write(data, "posts", posts)
    placements = read(data, "placements")
    placements.loc[0, "account_id"] = "ghost"
    write(data, "placements", placements.drop(columns=["cost"]))
    found = messages(data)
    assert len(found) == 4
    assert any("posts.csv, column 'likes': negative values" in m for m in found)
    assert any("posts.csv, column 'posted_at'" in m for m in found)
    assert any("placements.csv, column 'cost': missing" in m for m in found)
    assert any("placements.csv, column 'account_id': ids that are not in" in m for m in found)
    with pytest.raises(DataContractError, match="breaks the contract in 4 places"):
        load_dataset(data)


def test_fractional_and_non_numeric_counts(data: Path) -> None:
    posts = read(data, "posts")
    posts.loc[4, "shares"] = "2.5"
    posts.loc[5, "comments"] = "many"
    write(data, "posts", posts)
    assert messages(data) == [
        "posts.csv, column 'comments': values that are not a whole number >= 0 in 1 row: "
        "'many' on line 7.",
        "posts.csv, column 'shares': values that are not whole numbers in 1 row: '2.5' on line 6.",
    ]


def test_negative_cost_and_bad_boolean(data: Path) -> None:
    placements = read(data, "placements")
    placements.loc[1, "cost"] = "-10.5"
    write(data, "placements", placements)
    posts = read(data, "posts")
    posts.loc[0, "sponsored"] = "maybe"
    write(data, "posts", posts)
    assert messages(data) == [
        "posts.csv, column 'sponsored': values that are not true or false in 1 row: 'maybe' on "
        "line 2.",
        "placements.csv, column 'cost': negative values (expected >= 0) in 1 row: '-10.5' on "
        "line 3.",
    ]


def test_empty_required_cell(data: Path) -> None:
    campaigns = read(data, "campaigns")
    campaigns.loc[2, "brand"] = " "
    write(data, "campaigns", campaigns)
    assert messages(data) == ["campaigns.csv, column 'brand': empty cells in 1 row (line 4)."]


def test_duplicate_ids_and_duplicate_rows(data: Path) -> None:
    accounts = read(data, "accounts")
    copy = accounts.iloc[[0]]
    changed = accounts.iloc[[1]].assign(platform="other")
    write(data, "accounts", pd.concat([accounts, copy, changed], ignore_index=True))
    n = len(accounts)
    assert messages(data) == [
        f"accounts.csv: duplicate rows (identical to an earlier row) in 1 row (line {n + 2}).",
        f"accounts.csv, column 'account_id': ids already used on an earlier row in 1 row "
        f"(line {n + 3}).",
    ]


def test_missing_file_empty_file_and_both_formats(data: Path) -> None:
    (data / "accounts.csv").unlink()
    (data / "campaigns.csv").write_text("")
    shutil.copy(data / "posts.csv", data / "posts.parquet")
    found = messages(data)
    assert found == [
        f"accounts.csv: missing from {data}; expected accounts.csv, accounts.parquet or "
        "accounts.xlsx.",
        f"posts.csv: both posts.csv and posts.parquet exist in {data}; keep only one.",
        "campaigns.csv: is empty; expected a header line and rows.",
    ]


def test_non_utf8_and_a_header_delimited_otherwise(data: Path) -> None:
    # A header without any delimiter the reader knows: one column, which no contract name is.
    accounts = read(data, "accounts")
    accounts.to_csv(data / "accounts.csv", index=False, sep="#")
    raw = (data / "campaigns.csv").read_bytes()
    (data / "campaigns.csv").write_bytes(raw + "c9,caf\xe9,x,\n".encode("latin-1"))
    found = messages(data)
    assert found[0] == ("accounts.csv, column 'account_id': missing; the contract requires it.")
    offset = len(raw) + len("c9,caf")
    line = raw.count(b"\n") + 1
    assert found[-1] == (
        f"campaigns.csv: is not UTF-8 text (byte 0xE9 at byte offset {offset}, line {line}); "
        "it looks like Windows-1252, where 0xE9 is 'é': re-save it as UTF-8 (in Excel: "
        'File > Save As, file format "CSV UTF-8 (Comma delimited)").'
    )


def test_not_a_directory(tmp_path: Path) -> None:
    assert messages(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: is not a directory; give the folder holding the tables."
    ]


def test_naive_timestamps_are_utc_and_offsets_converted(data: Path) -> None:
    campaigns = read(data, "campaigns")
    campaigns.loc[0, "starts_at"] = "2025-03-01T12:00:00"
    campaigns.loc[1, "starts_at"] = "2025-03-01T14:00:00+02:00"
    write(data, "campaigns", campaigns)
    ds = load_dataset(data)
    assert ds.campaigns.loc[0, "starts_at"] == pd.Timestamp("2025-03-01T12:00:00Z")
    assert ds.campaigns.loc[1, "starts_at"] == pd.Timestamp("2025-03-01T12:00:00Z")


def test_optional_columns_may_be_absent_and_extra_columns_ignored(data: Path) -> None:
    posts = read(data, "posts").drop(columns=["views", "text", "following", "sponsored"])
    write(data, "posts", posts.assign(note="extra"))
    ds = load_dataset(data)
    assert ds.posts["views"].isna().all()
    assert "note" not in ds.posts.columns


def test_thin_history_is_a_warning_not_a_problem(data: Path) -> None:
    placements = read(data, "placements")
    posts = read(data, "posts")
    first = placements.loc[0, "account_id"]
    write(data, "posts", posts[posts["account_id"] != first])
    problems, warnings = validate_directory(data)
    assert problems == []
    assert any(first in str(w) and w.warning for w in warnings)


def test_parquet_rows_are_numbered_from_one() -> None:
    message = "negative values (expected >= 0)"
    problem = Problem("posts.parquet", "likes", message, (0, 4), 2, rule=Rule.NEGATIVE)
    assert str(problem) == (
        "posts.parquet, column 'likes': negative values (expected >= 0) in 2 rows (rows 1, 5)."
    )


def test_stacked_tables_are_checked_each_as_if_alone() -> None:
    from features.contract import CAMPAIGNS
    from features.validate import coerce_table, coerce_tables

    tables = [
        pd.DataFrame({"campaign_id": ["c1", "c2"], "brand": ["b", "b"], "topic": ["t", "t"]}),
        # the same ids as the first table: duplicates are looked for within a table only
        pd.DataFrame({"campaign_id": ["c1", "c1", "c1", ""], "brand": ["b", "b", "x", "b"]}),
        pd.DataFrame({"campaign_id;brand;topic": ["c1;b;t"]}),
        pd.DataFrame({"campaign_id": ["c9"], "brand": ["b"], "topic": ["t"], "starts_at": ["?"]}),
    ]
    stacked = pd.concat(tables, ignore_index=True)
    group = np.repeat(np.arange(len(tables)), [len(t) for t in tables])
    present = {c: np.array([c in t for t in tables]) for c in stacked.columns}
    files = [f"table {g}.csv" for g in range(len(tables))]
    typed, problems = coerce_tables(CAMPAIGNS, stacked, group, files, present)
    alone = [coerce_table(CAMPAIGNS, t, f) for t, f in zip(tables, files, strict=True)]
    assert problems == [p for _, p in alone]
    assert [len(p) for p in problems] == [0, 4, 3, 1]  # absent topic, empty id, two duplicates
    pd.testing.assert_frame_equal(typed, pd.concat([t for t, _ in alone], ignore_index=True))


def test_a_tables_problems_come_in_report_order_whatever_their_wording() -> None:
    from features.contract import POSTS
    from features.validate import COLUMN_RULES, TABLE_RULES, coerce_table, report_order

    row = {"post_id": "p1", "account_id": "a1", "posted_at": "2025-01-01T00:00:00Z"}
    row |= {"followers": "10", "likes": "1", "comments": "1"}  # no shares: a missing column
    broken = [
        {"posted_at": ""},
        {"likes": "many"},
        {"likes": "-1"},
        {"comments": "1.5"},
        {},  # the first row again
        {"likes": "2"},  # the first row's id
    ]
    raw = pd.DataFrame([row] + [row | b for b in broken])
    _, problems = coerce_table(POSTS, raw, "posts.csv")
    assert {p.rule for p in problems} == {Rule.MISSING_COLUMN, *COLUMN_RULES, *TABLE_RULES}
    assert problems == sorted(problems, key=lambda p: report_order(POSTS, p))
    # "values that are not ..." sorts after "negative values", yet is checked first
    assert [p.rule for p in problems if p.column == "likes"] == [Rule.WRONG_TYPE, Rule.NEGATIVE]
    reference = Problem("posts.csv", "account_id", "ids", rule=Rule.UNKNOWN_REFERENCE)
    with pytest.raises(ValueError, match="does not check"):
        report_order(POSTS, reference)
