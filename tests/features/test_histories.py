"""`features.histories`: a snapshot's memory-mapped histories give the frames the loaded data
gives, for any accounts asked for in any order, row labels and types included."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.builder import FeatureBuilder
from features.histories import MappedHistories, MemoryHistories, write_posts_index
from features.io import Dataset, load_dataset
from features.online import OnlineFeatures
from features.snapshot import materialize, read_snapshot


@pytest.fixture(scope="module")
def both(
    online_data: Dataset,
    online_builder: FeatureBuilder,
    online: OnlineFeatures,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MemoryHistories, MappedHistories]:
    """The online world's histories held in memory and read from its snapshot."""
    folder = tmp_path_factory.mktemp("histories") / "snap"
    materialize(online_data, online_builder, folder, online.as_of)
    return MemoryHistories(online_data), read_snapshot(folder, online_builder).histories


def assert_same(left: Dataset, right: Dataset) -> None:
    """Every table equal, values, types and row labels."""
    for name in ("accounts", "posts", "campaigns", "placements"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_exact=True)


def test_every_account_s_history_is_the_loaded_one(
    both: tuple[MemoryHistories, MappedHistories], online_data: Dataset
) -> None:
    memory, mapped = both
    assert mapped.post_counts() == memory.post_counts()
    assert list(mapped.post_counts()) == sorted(set(online_data.posts["account_id"]))
    for account in list(memory.post_counts())[:40]:
        assert mapped.knows(account)
        assert_same(memory.take([account]), mapped.take([account]))
    assert not mapped.knows("nobody")
    assert not memory.knows("nobody")
    assert_same(memory.take([]), mapped.take([]))
    assert_same(memory.take(["nobody"]), mapped.take(["nobody"]))
    pd.testing.assert_frame_equal(mapped.campaigns, online_data.campaigns, check_exact=True)
    pd.testing.assert_frame_equal(mapped.placements, online_data.placements, check_exact=True)


def test_the_stored_norms_are_the_computed_ones(
    both: tuple[MemoryHistories, MappedHistories], online: OnlineFeatures
) -> None:
    memory, mapped = both
    computed, stored = memory.norms(online.as_of), mapped.norms(online.as_of)
    pd.testing.assert_frame_equal(stored.weekly, computed.weekly, check_exact=True)
    pd.testing.assert_frame_equal(stored.recent, computed.recent, check_exact=True)
    with pytest.raises(ValueError, match="the snapshot's norms are as of"):
        mapped.norms(online.as_of + pd.Timedelta(days=1))


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(0, 220), max_size=12))
def test_any_accounts_in_any_order_give_the_same_frames(
    both: tuple[MemoryHistories, MappedHistories], picks: list[int]
) -> None:
    memory, mapped = both
    accounts = sorted(memory.post_counts())
    # Past the end: ids the data does not hold, mixed in among known ones and repeats.
    ids = [accounts[i] if i < len(accounts) else f"unknown-{i}" for i in picks]
    assert_same(memory.take(ids), mapped.take(ids))


def test_a_loaded_export_s_types_survive_the_snapshot(small_csv_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(small_csv_dir)
    builder = FeatureBuilder().fit(data)
    as_of = data.posts["posted_at"].max() + pd.Timedelta(seconds=1)
    materialize(data, builder, tmp_path / "snap", as_of)
    mapped = read_snapshot(tmp_path / "snap", builder).histories
    memory = MemoryHistories(data)
    some = sorted(memory.post_counts())[::7]
    assert_same(memory.take(some), mapped.take(some))


def test_an_account_in_two_parts_is_refused(tmp_path: Path) -> None:
    piece = pd.DataFrame({"account_id": ["a", "b"], "part": [0, 0], "start": [0, 3],
                          "count": [3, 1]})  # fmt: skip
    with pytest.raises(ValueError, match="accounts in two parts of the posts"):
        write_posts_index(tmp_path, [piece, piece.assign(part=1)])
