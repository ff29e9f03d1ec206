"""`features.snapshot`: a materialized snapshot reads back as the `OnlineFeatures` it was,
to the bit, and refuses a changed file or another model's feature state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.errors import NotFittedError
from features.io import Dataset
from features.online import OnlineFeatures

if TYPE_CHECKING:
    from conftest import OnlineWorld

from features.snapshot import MANIFEST, SnapshotError, read_snapshot, state_digest, write_snapshot

CAMPAIGNS = [
    {"brand": "northpeak", "topic": "running shoes marathon training"},
    {"brand": "unknownbrand", "topic": "coffee dinner brunch kitchen"},
    {"brand": "x", "topic": "no word the vocabulary has"},
]


@pytest.fixture(scope="module")
def data(online_world: OnlineWorld) -> Dataset:
    return online_world.data


@pytest.fixture(scope="module")
def builder(online_world: OnlineWorld) -> FeatureBuilder:
    return online_world.builder


@pytest.fixture(scope="module")
def online(online_world: OnlineWorld) -> OnlineFeatures:
    return online_world.online


def test_a_snapshot_reads_back_to_the_bit(
    online: OnlineFeatures, builder: FeatureBuilder, tmp_path: Path
) -> None:
    manifest = write_snapshot(online, builder, tmp_path / "snap", data_digest="d" * 64)
    read = read_snapshot(tmp_path / "snap", builder)
    assert read.as_of == online.as_of
    assert read.row_of == online.row_of
    assert np.array_equal(read.free, online.free, equal_nan=True)
    accounts = sorted(online.row_of)
    repeated = [*accounts[::-1], accounts[0]]
    for campaign in CAMPAIGNS:
        before, after = online.rows(repeated, campaign), read.rows(repeated, campaign)
        assert before.tobytes() == after.tobytes()  # bit for bit, NaN included
    saved = json.loads(manifest.read_text())
    assert saved["format"] == 1
    assert (saved["accounts"], saved["data_digest"]) == (len(online.row_of), "d" * 64)
    assert saved["state_digest"] == state_digest(builder)
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == sorted(
        [MANIFEST, *saved["files"]]
    )
    assert not [p for p in tmp_path.iterdir() if p.name != "snap"]  # no temporary left


def test_the_state_digest_tells_fitted_states_apart(data: Dataset, builder: FeatureBuilder) -> None:
    assert state_digest(FeatureBuilder().fit(data)) == state_digest(builder)
    earlier = data.posts["posted_at"].quantile(0.5)
    assert state_digest(FeatureBuilder().fit(data, until=earlier)) != state_digest(builder)
    assert state_digest(FeatureBuilder(prior_strength=5.0).fit(data)) != state_digest(builder)


def test_another_model_s_feature_state_is_refused(
    online: OnlineFeatures, builder: FeatureBuilder, data: Dataset, tmp_path: Path
) -> None:
    write_snapshot(online, builder, tmp_path / "snap")
    other = FeatureBuilder(prior_strength=5.0).fit(data)
    with pytest.raises(SnapshotError, match="another fitted feature state") as refused:
        read_snapshot(tmp_path / "snap", other)
    assert str(refused.value) == (
        f"{tmp_path / 'snap'} was materialized with another fitted feature state (digest "
        f"{state_digest(builder)[:12]}) than the model's ({state_digest(other)[:12]}): its rows "
        "would be wrong for this model; materialize it again with this model."
    )


def test_a_changed_or_missing_file_is_refused(
    online: OnlineFeatures, builder: FeatureBuilder, tmp_path: Path
) -> None:
    folder = tmp_path / "snap"
    write_snapshot(online, builder, folder)
    free = np.load(folder / "free.npy")
    free[0, 0] += 1.0
    np.save(folder / "free.npy", free)
    with pytest.raises(SnapshotError, match="sha256 differs") as refused:
        read_snapshot(folder, builder)
    assert str(refused.value).startswith(f"{folder / 'free.npy'} is missing or not the file")
    write_snapshot(online, builder, folder)  # replaces the changed one
    (folder / "captions.parquet").unlink()
    with pytest.raises(SnapshotError, match=r"captions\.parquet is missing"):
        read_snapshot(folder, builder)
    (folder / MANIFEST).unlink()
    with pytest.raises(SnapshotError, match="is not a snapshot") as refused:
        read_snapshot(folder, builder)
    assert str(refused.value) == f"{folder} is not a snapshot: it has no {MANIFEST}."


def test_a_failed_write_leaves_the_snapshot_there_before(
    online: OnlineFeatures, builder: FeatureBuilder, tmp_path: Path
) -> None:
    folder = tmp_path / "snap"
    write_snapshot(online, builder, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(NotFittedError, match="not fitted yet"):
        write_snapshot(online, FeatureBuilder(), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]
    assert pd.Timestamp(json.loads((folder / MANIFEST).read_text())["as_of"]) == online.as_of
