"""`validate_tables`: in-memory tables get the rules, problems and typing of a directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features import DataContractError, load_dataset, validate_directory, validate_tables
from features.contract import TABLES


def _raw(data: Path) -> dict[str, pd.DataFrame]:
    """The tables as a spreadsheet export reads them: every cell text."""
    return {
        name: pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False) for name in TABLES
    }


def test_valid_tables_come_back_typed_as_load_dataset_types_them(small_csv_dir: Path) -> None:
    raw = _raw(small_csv_dir)
    before = {name: frame.copy() for name, frame in raw.items()}
    data = validate_tables(**raw)
    loaded = load_dataset(small_csv_dir)
    assert data.digest() == loaded.digest()
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(data, name), getattr(loaded, name))
        pd.testing.assert_frame_equal(raw[name], before[name])  # the caller's frames untouched
    assert [(w.file, w.message, w.rows) for w in data.warnings] == [
        (w.file.removesuffix(".csv"), w.message, w.rows) for w in loaded.warnings
    ]


def test_broken_tables_have_the_directory_s_problems_named_by_table(
    small_csv_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(small_csv_dir, broken)
    raw = _raw(broken)
    raw["posts"].loc[[1, 4], "followers"] = ["-3", "8.2K"]
    raw["campaigns"] = raw["campaigns"].drop(columns="topic")
    raw["placements"].loc[0, "account_id"] = "nobody"
    for name, frame in raw.items():
        frame.to_csv(broken / f"{name}.csv", index=False)
    problems, _ = validate_directory(broken)
    with pytest.raises(DataContractError, match=r"posts, column .followers.") as raised:
        validate_tables(**raw)
    found = raised.value.problems
    assert len(found) == len(problems) >= 3
    for ours, theirs in zip(found, problems, strict=True):
        assert (ours.file, ours.column, ours.message, ours.rows, ours.count, ours.rule) == (
            theirs.file.removesuffix(".csv"),
            theirs.column,
            theirs.message.replace(".csv", ""),
            theirs.rows,
            theirs.count,
            theirs.rule,
        )
    assert str(found[0]).startswith("posts, column 'followers': ")
    assert "on row 5" in str(found[0])  # 1-based rows, not lines
