"""Loading with the workers' help: the pandas engine's problems, in its order, and warnings."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.distributed import PartitionedData, load_partitioned
from features.distributed.loading import posts_problems
from features.errors import DataContractError, Problem, Rule
from features.io import Dataset, load_dataset, validate_directory
from features.simulate import World, write_world


def test_a_valid_world_has_the_pandas_engines_warnings(
    both: tuple[Dataset, PartitionedData],
) -> None:
    data, parted = both
    assert parted.warnings == data.warnings


def break_world(world: World, out: Path) -> None:
    """A partitioned world breaking every rule of posts, over several posts files.

    Each file's problems come in an order of their own (comments before likes in the
    first), and wording that sorts against the rules' order (negative values before
    values that are not ..., within one column).
    """
    write_world(world, out, partitions=3)
    files = sorted((out / "posts.parquet").glob("*.parquet"))
    parts = []
    for file in files:
        part = pd.read_parquet(file).drop(columns=["shares"])  # a required column, everywhere
        part["likes"] = part["likes"].astype(float)
        part["sponsored"] = part["sponsored"].map({True: "yes", False: "no"})
        parts.append(part)
    first, second, third = parts
    first.loc[3, "comments"] = -2
    second.loc[2, "likes"] = -5
    second.loc[4, "posted_at"] = pd.NaT
    second.loc[5, "post_id"] = first.loc[0, "post_id"]  # an id used in another file
    second.loc[6] = second.loc[7]  # a row identical to a later one: the later is flagged
    second.loc[8, "likes"] = 2.5
    third.loc[1, "account_id"] = "nobody"
    third.loc[3, "likes"] = -1
    third.loc[4, "sponsored"] = "maybe"
    for file, part in zip(files, parts, strict=True):
        part.to_parquet(file, index=False)
    placements = sorted((out / "placements.parquet").glob("*.parquet"))[1]
    frame = pd.read_parquet(placements)
    frame.loc[0, "campaign_id"] = "c-none"
    frame.to_parquet(placements, index=False)


def test_bad_data_gives_the_pandas_engines_problems(
    client: Any, small_world: World, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    break_world(small_world, broken)
    with pytest.raises(DataContractError, match="in 10 places") as single:
        load_dataset(broken)
    with pytest.raises(DataContractError, match="in 10 places") as spread:
        load_partitioned(client, broken)
    assert spread.value.problems == single.value.problems
    assert str(spread.value).splitlines() == [
        "The data breaks the contract in 10 places:",
        "  - posts.parquet, column 'shares': missing; the contract requires it.",
        "  - posts.parquet, column 'posted_at': empty cells in 1 row (row 462).",
        "  - posts.parquet, column 'likes': negative values (expected >= 0) in 2 rows: "
        "'-5' on row 460, '-1' on row 1208.",
        "  - posts.parquet, column 'likes': values that are not whole numbers in 1 row: "
        "'2.5' on row 466.",
        "  - posts.parquet, column 'comments': negative values (expected >= 0) in 1 row: "
        "'-2' on row 4.",
        "  - posts.parquet, column 'sponsored': values that are not true or false in 1 row: "
        "'maybe' on row 1209.",
        "  - posts.parquet: duplicate rows (identical to an earlier row) in 1 row (row 465).",
        "  - posts.parquet, column 'post_id': ids already used on an earlier row in 1 row "
        "(row 463).",
        "  - posts.parquet, column 'account_id': ids that are not in accounts.parquet in 1 row "
        "(row 1206).",
        "  - placements.parquet, column 'campaign_id': ids that are not in campaigns.parquet "
        "in 1 row (row 10).",
    ]


def edit_csv(data: Path, name: str, cells: dict[tuple[int, str], str]) -> None:
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row, column] = value
    frame.to_csv(data / f"{name}.csv", index=False)


def broken_cells(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every rule of a table, most in one CSV file of posts; in the column `likes` worded to
    sort against the rules' order ("negative values" before "values that are not ...",
    which `coerce_table` checks first)."""
    edit_csv(data, "posts", {(1, "likes"): "-3", (2, "likes"): "many", (3, "likes"): "2.5"})
    edit_csv(data, "posts", {(4, "posted_at"): "", (5, "account_id"): "nobody"})
    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    edit_csv(data, "posts", {(6, "post_id"): posts.loc[7, "post_id"]})
    edit_csv(data, "posts", {(8, c): posts.loc[9, c] for c in posts.columns})
    edit_csv(data, "placements", {(0, "cost"): "-1", (1, "account_id"): "ghost"})
    campaigns = pd.read_csv(data / "campaigns.csv", dtype=str, keep_default_na=False)
    campaigns.drop(columns=["brand"]).to_csv(data / "campaigns.csv", index=False)
    return data


def broken_files(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A table missing, one empty, one in two formats, and posts that are not UTF-8."""
    (data / "accounts.csv").unlink()
    (data / "campaigns.csv").write_text("")
    shutil.copy(data / "placements.csv", data / "placements.parquet")
    posts = (data / "posts.csv").read_bytes()
    (data / "posts.csv").write_bytes(posts + "p-x,a000001,caf\xe9\n".encode("latin-1"))
    return data


def unreadable_files(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Posts and placements that are not CSV (a row with more cells than the header)."""
    for name in ("posts", "placements"):
        lines = (data / f"{name}.csv").read_text().splitlines()
        lines[2] += ",one,too,many"
        (data / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return data


def not_a_directory(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return data / "posts.csv"


def unsearchable(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder this user may not search (faked: the tests may run as root, who may)."""
    iterdir = Path.iterdir

    def refused(path: Path) -> Any:
        if path == data:
            raise PermissionError(13, "Permission denied", str(path))
        return iterdir(path)

    monkeypatch.setattr(Path, "iterdir", refused)
    return data


def broken_exports(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports that cannot be read unambiguously: two headers for one column (posts), lines
    that disagree on the delimiter (placements), a workbook without an accounts sheet."""
    from openpyxl import Workbook

    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    posts.assign(Likes=posts["likes"]).to_csv(data / "posts.csv", index=False)
    lines = (data / "placements.csv").read_text().replace(",", ";").splitlines()
    lines[3] += ";extra"
    (data / "placements.csv").write_text("\n".join(lines) + "\n")
    accounts = pd.read_csv(data / "accounts.csv", dtype=str, keep_default_na=False)
    (data / "accounts.csv").unlink()
    book = Workbook()
    book.active.title = "export"
    book.create_sheet("notes")
    book.active.append(list(accounts.columns))
    book.save(data / "Accounts.xlsx")
    return data


BREAKS = [
    broken_cells,
    broken_files,
    unreadable_files,
    not_a_directory,
    unsearchable,
    broken_exports,
]


def broken_copy(
    csv_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, break_: Any
) -> Path:
    data = tmp_path / "data"
    shutil.copytree(csv_dir, data)
    return Path(break_(data, monkeypatch))


@pytest.mark.parametrize("break_", BREAKS)
def test_every_rule_gives_the_pandas_engines_problems_in_its_order(
    client: Any,
    small_csv_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    break_: Any,
) -> None:
    data = broken_copy(small_csv_dir, tmp_path, monkeypatch, break_)
    with pytest.raises(DataContractError, match="breaks the contract") as single:
        load_dataset(data)
    with pytest.raises(DataContractError, match="breaks the contract") as spread:
        load_partitioned(client, data)
    assert spread.value.problems == single.value.problems
    assert str(spread.value) == str(single.value)


def test_the_broken_data_sets_break_every_rule_of_the_contract(
    small_csv_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = set()
    for i, break_ in enumerate(BREAKS):
        with monkeypatch.context() as patch:
            data = broken_copy(small_csv_dir, tmp_path / str(i), patch, break_)
            problems, _ = validate_directory(data)
        rules |= {p.rule for p in problems}
    warnings = {Rule.THIN_HISTORY, Rule.DATED_AFTER_NOW, Rule.OTHER_DELIMITER}
    warnings |= {Rule.FILE_NAME_CASE}
    # A broken --columns file stops before any directory is read (tests/features/test_headers.py).
    assert rules == set(Rule) - warnings - {Rule.COLUMNS_FILE}


def test_posts_problems_are_ordered_by_rule_and_column_never_by_message() -> None:
    """The messages here are worded as other rules', and sort against the rules' order."""

    def problem(column: str, rule: Rule, message: str, row: int) -> Problem:
        return Problem("posts.parquet", column, message, (row,), 1, rule=rule)

    first_file = [
        problem("likes", Rule.FRACTIONAL, "empty cells, worded wrong", 1),
        problem("followers", Rule.NEGATIVE, "values that are not whole numbers", 2),
    ]
    second_file = [
        problem("likes", Rule.EMPTY_CELLS, "missing; worded wrong", 10),
        problem("likes", Rule.FRACTIONAL, "another wording of the same rule", 11),
        Problem("posts.parquet", "shares", "ids already used", rule=Rule.MISSING_COLUMN),
    ]
    dup_rows, dup_keys = np.array([12], dtype=np.int64), np.array([3], dtype=np.int64)
    found = posts_problems([first_file, second_file], dup_rows, dup_keys, "posts.parquet")
    assert [(p.column, p.rule) for p in found] == [
        ("shares", Rule.MISSING_COLUMN),
        ("followers", Rule.NEGATIVE),
        ("likes", Rule.EMPTY_CELLS),
        ("likes", Rule.FRACTIONAL),
        (None, Rule.DUPLICATE_ROW),
        ("post_id", Rule.DUPLICATE_ID),
    ]
    merged = found[3]
    assert (merged.message, merged.rows, merged.count) == ("empty cells, worded wrong", (1, 11), 2)


def test_an_export_read_with_options_is_the_pandas_engines(
    client: Any, small_csv_dir: Path, tmp_path: Path
) -> None:
    """Posts.csv with semicolons and spreadsheet headers, a mapped column, day-first dates:
    the Dask engine reads them as the pandas engine does, notes and digest alike."""
    from features.headers import read_options

    data = tmp_path / "export"
    shutil.copytree(small_csv_dir, data)
    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    (data / "posts.csv").unlink()
    posts = posts.rename(columns={"followers": "Follower Count", "posted_at": "Posted At"})
    posts.to_csv(data / "Posts.csv", index=False, sep=";")
    edit_csv(data, "campaigns", {(0, "starts_at"): "25/03/2025"})
    mapping = tmp_path / "map.toml"
    mapping.write_text('[posts]\nfollowers = "Follower Count"\n')
    options = read_options(mapping, dayfirst=True)
    single = load_dataset(data, options)
    spread = load_partitioned(client, data, options=options)
    assert spread.digest() == single.digest()
    assert spread.warnings == single.warnings
    assert [str(w) for w in single.warnings[:2]] == [
        "Posts.csv: read as the posts table; the contract names it posts.csv.",
        "Posts.csv: is delimited by semicolons (;), not commas; read as such.",
    ]
    with pytest.raises(DataContractError, match="'25/03/2025' on line 2") as refused:
        load_partitioned(client, data, options=read_options(mapping))
    with pytest.raises(DataContractError, match="'25/03/2025' on line 2") as alone:
        load_dataset(data, read_options(mapping))
    assert refused.value.problems == alone.value.problems
