"""The moment data stands at: the latest observed post or placement outcome, never a plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features import load_dataset, validate_directory
from features.engine import PandasTables
from features.moment import observed_until

NOW = pd.Timestamp("2026-12-01T00:00:00Z")


@pytest.fixture
def data(small_csv_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(small_csv_dir, target)
    return target


def _append(data: Path, name: str, changes: dict[str, str], blank: tuple[str, ...] = ()) -> int:
    """Append a copy of the table's first row with `changes`; return its CSV line number."""
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    row = {**frame.iloc[0].to_dict(), **changes, **dict.fromkeys(blank, "")}
    frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    frame.to_csv(data / f"{name}.csv", index=False)
    return len(frame) + 1


def _end(data: Path) -> pd.Timestamp:
    d = load_dataset(data)
    return max(d.posts["posted_at"].max(), d.placements["posted_at"].max())


def test_planned_and_future_rows_do_not_move_the_moment(data: Path) -> None:
    end = _end(data)
    outcomes = ("clicks", "referrals", "conversions", "revenue")
    _append(
        data, "placements", {"placement_id": "plan", "posted_at": "2026-09-01T00:00:00Z"}, outcomes
    )
    _append(data, "posts", {"post_id": "future", "posted_at": "2030-01-01T00:00:00Z"})
    _append(data, "placements", {"placement_id": "late", "posted_at": "2030-02-01T00:00:00Z"})
    loaded = load_dataset(data)
    assert observed_until(loaded.posts["posted_at"], loaded.placements, NOW) == end
    # Training's moment (no --until) is the same; --until still wins.
    assert PandasTables(loaded).as_of(None, NOW) == end
    assert PandasTables(loaded).as_of(NOW, NOW) == NOW
    # A placement whose outcome arrived counts, whichever outcome it is.
    clicks_only = ("referrals", "conversions", "revenue")
    _append(
        data, "placements", {"placement_id": "in", "posted_at": "2026-11-30T00:00:00Z"}, clicks_only
    )
    loaded = load_dataset(data)
    assert observed_until(loaded.posts["posted_at"], loaded.placements, NOW) == pd.Timestamp(
        "2026-11-30T00:00:00Z"
    )


def test_nothing_observed_is_nat(data: Path) -> None:
    loaded = load_dataset(data)
    assert pd.isna(
        observed_until(loaded.posts["posted_at"], loaded.placements, pd.Timestamp(0, tz="UTC"))
    )


def test_validate_warns_about_posts_and_outcomes_dated_in_the_future(data: Path) -> None:
    post_line = _append(data, "posts", {"post_id": "future", "posted_at": "2030-01-01T00:00:00Z"})
    outcomes = ("clicks", "referrals", "conversions", "revenue")
    _append(
        data, "placements", {"placement_id": "plan", "posted_at": "2031-01-01T00:00:00Z"}, outcomes
    )
    late_line = _append(
        data, "placements", {"placement_id": "late", "posted_at": "2030-02-01T08:30:00Z"}
    )
    problems, warnings = validate_directory(data, now=NOW)
    assert problems == []
    future = [str(w) for w in warnings if "dated after now" in str(w)]
    assert future == [
        "posts.csv, column 'posted_at': posts dated after now (2026-12-01T00:00:00Z; the latest "
        "2030-01-01T00:00:00Z), not counted in the moment the data stands at in 1 row "
        f"(line {post_line}).",
        "placements.csv, column 'posted_at': placements with outcomes dated after now "
        "(2026-12-01T00:00:00Z; the latest 2030-02-01T08:30:00Z), not counted in the moment the "
        f"data stands at in 1 row (line {late_line}).",
    ]
    assert all(w.warning for w in warnings)
