"""`features.snapshot`: a materialized snapshot reads back as the `OnlineFeatures` it was,
to the bit, and refuses a changed file or another model's feature state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.errors import NotFittedError
from features.io import Dataset
from features.online import OnlineFeatures
from features.snapshot import MANIFEST, SnapshotError, read_snapshot, state_digest, write_snapshot

CAMPAIGNS = [
    {"brand": "northpeak", "topic": "running shoes marathon training"},
    {"brand": "unknownbrand", "topic": "coffee dinner brunch kitchen"},
    {"brand": "x", "topic": "no word the vocabulary has"},
]


def test_a_snapshot_reads_back_to_the_bit(
    online: OnlineFeatures, online_builder: FeatureBuilder, tmp_path: Path
) -> None:
    manifest = write_snapshot(online, online_builder, tmp_path / "snap", data_digest="d" * 64)
    read = read_snapshot(tmp_path / "snap", online_builder)
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
    assert saved["state_digest"] == state_digest(online_builder)
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == sorted(
        [MANIFEST, *saved["files"]]
    )
    assert not [p for p in tmp_path.iterdir() if p.name != "snap"]  # no temporary left


def test_the_state_digest_tells_fitted_states_apart(
    online_data: Dataset, online_builder: FeatureBuilder
) -> None:
    digest = state_digest(online_builder)
    assert state_digest(FeatureBuilder().fit(online_data)) == digest
    earlier = online_data.posts["posted_at"].quantile(0.5)
    assert state_digest(FeatureBuilder().fit(online_data, until=earlier)) != digest
    assert state_digest(FeatureBuilder(prior_strength=5.0).fit(online_data)) != digest


def test_another_model_s_feature_state_is_refused(
    online: OnlineFeatures, online_builder: FeatureBuilder, online_data: Dataset, tmp_path: Path
) -> None:
    write_snapshot(online, online_builder, tmp_path / "snap")
    other = FeatureBuilder(prior_strength=5.0).fit(online_data)
    with pytest.raises(SnapshotError, match="another fitted feature state") as refused:
        read_snapshot(tmp_path / "snap", other)
    assert str(refused.value) == (
        f"{tmp_path / 'snap'} was materialized with another fitted feature state (digest "
        f"{state_digest(online_builder)[:12]}) than the model's ({state_digest(other)[:12]}): "
        "its rows would be wrong for this model; materialize it again with this model."
    )


def test_a_changed_or_missing_file_is_refused(
    online: OnlineFeatures, online_builder: FeatureBuilder, tmp_path: Path
) -> None:
    folder = tmp_path / "snap"
    write_snapshot(online, online_builder, folder)
    free = np.load(folder / "free.npy")
    free[0, 0] += 1.0
    np.save(folder / "free.npy", free)
    with pytest.raises(SnapshotError, match="sha256 differs") as refused:
        read_snapshot(folder, online_builder)
    assert str(refused.value).startswith(f"{folder / 'free.npy'} is missing or not the file")
    write_snapshot(online, online_builder, folder)  # replaces the changed one
    (folder / "captions.parquet").unlink()
    with pytest.raises(SnapshotError, match=r"captions\.parquet is missing"):
        read_snapshot(folder, online_builder)
    (folder / MANIFEST).unlink()
    with pytest.raises(SnapshotError, match="is not a snapshot") as refused:
        read_snapshot(folder, online_builder)
    assert str(refused.value) == f"{folder} is not a snapshot: it has no {MANIFEST}."


def test_a_failed_write_leaves_the_snapshot_there_before(
    online: OnlineFeatures, online_builder: FeatureBuilder, tmp_path: Path
) -> None:
    folder = tmp_path / "snap"
    write_snapshot(online, online_builder, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(NotFittedError, match="not fitted yet"):
        write_snapshot(online, FeatureBuilder(), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]
    assert pd.Timestamp(json.loads((folder / MANIFEST).read_text())["as_of"]) == online.as_of
