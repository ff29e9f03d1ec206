"""`features.distributed.snapshot`: the Dask engine writes the pandas engine's snapshot, to the
byte but for the posts parts, which read back as the same frames."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.builder import FEATURES, FeatureBuilder
from features.distributed import PartitionedData, fit_builder, load_partitioned
from features.distributed.snapshot import materialize_partitioned
from features.io import Dataset, account_buckets, load_dataset
from features.relevance import RELEVANCE_COLUMNS
from features.simulate import SimulationConfig, simulate_world, write_world
from features.snapshot import Snapshot, materialize, read_snapshot

CAMPAIGNS = [
    {"brand": "northpeak", "topic": "running shoes marathon training"},
    {"brand": "unknownbrand", "topic": "coffee dinner brunch kitchen"},
    {"brand": "x", "topic": "no word the vocabulary has"},
]
POSTS_FILES = ("posts-", "posts_index.parquet")
"""The files that differ: the posts split by bucket, and their index."""


def _both_written(
    data: Dataset,
    parted: PartitionedData,
    builder: FeatureBuilder,
    as_of: pd.Timestamp,
    tmp_path: Path,
) -> tuple[Snapshot, Snapshot]:
    lineage = {"data_digest": data.digest(), "model_version": "7"}
    materialize(data, builder, tmp_path / "pandas", as_of, lineage)
    written = materialize_partitioned(parted, builder, tmp_path / "dask", as_of, lineage)
    assert written == tmp_path / "dask" / "snapshot.json"
    single = json.loads((tmp_path / "pandas" / "snapshot.json").read_text())
    spread = json.loads(written.read_text())
    files, spread_files = single.pop("files"), spread.pop("files")
    assert spread == single  # as of, state digest, lineage, accounts, objects, shapes
    same = {f: d for f, d in files.items() if not f.startswith(POSTS_FILES)}
    assert len(same) == 18
    assert {f: d for f, d in spread_files.items() if not f.startswith(POSTS_FILES)} == same
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(
        ["snapshot.json", *spread_files]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask", "pandas"]  # no temporary
    return read_snapshot(tmp_path / "pandas", builder), read_snapshot(tmp_path / "dask", builder)


def _assert_same_reads(single: Snapshot, spread: Snapshot, accounts: list[str]) -> None:
    for account in accounts:  # each account alone: its posts come from one part
        a, b = single.histories.take([account]), spread.histories.take([account])
        for name in ("accounts", "posts", "placements"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    many = [*accounts[::-1], accounts[0]]  # every part at once, repeats once
    a, b = single.histories.take(many), spread.histories.take(many)
    pd.testing.assert_frame_equal(a.posts, b.posts, check_exact=True)
    assert single.histories.post_counts() == spread.histories.post_counts()
    known = sorted(single.online.row_of)
    assert spread.online.row_of == single.online.row_of
    assert spread.online.free.tobytes() == single.online.free.tobytes()
    for campaign in CAMPAIGNS:
        before, after = single.online.rows(known, campaign), spread.online.rows(known, campaign)
        assert before.tobytes() == after.tobytes()  # bit for bit, NaN included


def test_the_dask_snapshot_is_the_pandas_engine_s(
    both: tuple[Dataset, PartitionedData], tmp_path: Path
) -> None:
    data, parted = both
    builder = FeatureBuilder().fit(data)
    as_of = data.posts["posted_at"].max() + pd.Timedelta(seconds=1)
    single, spread = _both_written(data, parted, builder, as_of, tmp_path)
    parts = {f for f in spread.manifest["files"] if f.endswith(".arrow")}
    assert len(parts) == parted.buckets == 8  # one part per bucket, none empty
    _assert_same_reads(single, spread, sorted(data.accounts["account_id"]))
    # The data's own brand: relevance is really computed from the merged captions.
    last = data.campaigns.iloc[-1]
    rows = spread.online.rows(sorted(spread.online.row_of), dict(last[["brand", "topic"]]))
    assert np.nansum(rows[:, FEATURES.index("relevance_brand_mentions")]) > 0


BUCKETS = 32


@pytest.fixture(scope="module")
def sparse_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world of 40 accounts in `BUCKETS` buckets (so most are empty), where a fifth of the
    accounts stopped posting four months before the end (posts, but no recent captions),
    some posts have no text and one account, alone in its bucket, has no text at all."""
    config = SimulationConfig(accounts=40, campaigns=6, days=240, candidates=10, seed=21)
    world = simulate_world(config)
    posts = world.posts
    quiet = sorted(set(posts["account_id"]))[::5]
    cut = posts["posted_at"].max() - pd.Timedelta(days=120)
    posts = posts[~(posts["account_id"].isin(quiet) & (posts["posted_at"] > cut))].copy()
    posts.loc[posts.index[::7], "text"] = None
    ids = pd.Series(sorted(set(posts["account_id"])))
    bucket = pd.Series(account_buckets(ids, BUCKETS))
    alone = ids[bucket.map(bucket.value_counts()) == 1].iloc[0]
    posts.loc[posts["account_id"] == alone, "text"] = None  # its part has no text type
    out = tmp_path_factory.mktemp("sparse") / "world"
    write_world(replace(world, posts=posts.reset_index(drop=True)), out, partitions=3)
    return out


def test_empty_buckets_and_accounts_without_recent_captions(
    dask_cluster: Any, sparse_world: Path, tmp_path: Path
) -> None:
    data = load_dataset(sparse_world)
    parted = load_partitioned(dask_cluster, sparse_world, buckets=BUCKETS)
    used = set(account_buckets(data.posts["account_id"], BUCKETS))
    assert len(used) < BUCKETS  # some buckets hold no account
    until = data.posts["posted_at"].max() - pd.Timedelta(days=10)
    past, parted_past = data.known_until(until), parted.known_until(until)
    builder = fit_builder(parted_past, FeatureBuilder())
    single, spread = _both_written(past, parted_past, builder, until, tmp_path)
    parts = {f for f in spread.manifest["files"] if f.endswith(".arrow")}
    assert len(parts) == len(used)  # numbered without gaps: empty buckets write nothing
    captions = spread.online.captions
    quiet = [a for a, i in spread.online.row_of.items() if captions.counts[i] == 0]
    assert len(quiet) >= 8  # known accounts that relevance has nothing to score from
    rows = spread.online.rows(quiet, CAMPAIGNS[0])
    relevance = [FEATURES.index(c) for c in RELEVANCE_COLUMNS]
    assert np.isnan(rows[:, relevance]).all()
    _assert_same_reads(single, spread, sorted(data.accounts["account_id"]))


def test_no_post_at_all_is_refused(dask_cluster: Any, sparse_world: Path, tmp_path: Path) -> None:
    parted = load_partitioned(dask_cluster, sparse_world, buckets=4)
    first = pd.Timestamp("2000-01-01", tz="UTC")
    builder = fit_builder(parted, FeatureBuilder())
    with pytest.raises(ValueError, match="has no posts") as refused:
        materialize_partitioned(parted.known_until(first), builder, tmp_path / "snap", first)
    assert str(refused.value) == (
        "the partitioned data has no posts: a snapshot needs at least one"
    )
    assert not (tmp_path / "snap").exists()
