"""`features.snapshot`: a materialized snapshot reads back as the `OnlineFeatures` it was,
to the bit, and refuses a changed file or another model's feature state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.io import Dataset
from features.online import OnlineFeatures
from features.profile import tier_norms
from features.snapshot import (
    MANIFEST,
    SnapshotError,
    materialize,
    read_snapshot,
    state_digest,
    write_snapshot,
)

CAMPAIGNS = [
    {"brand": "northpeak", "topic": "running shoes marathon training"},
    {"brand": "unknownbrand", "topic": "coffee dinner brunch kitchen"},
    {"brand": "x", "topic": "no word the vocabulary has"},
]


def test_a_snapshot_reads_back_to_the_bit(
    online: OnlineFeatures, online_builder: FeatureBuilder, online_data: Dataset, tmp_path: Path
) -> None:
    lineage = {"data_digest": "d" * 64, "model_version": "3"}
    manifest = materialize(online_data, online_builder, tmp_path / "snap", online.as_of, lineage)
    read = read_snapshot(tmp_path / "snap", online_builder).online
    assert read.as_of == online.as_of
    assert read.row_of == online.row_of
    assert np.array_equal(read.free, online.free, equal_nan=True)
    accounts = sorted(online.row_of)
    repeated = [*accounts[::-1], accounts[0]]
    for campaign in CAMPAIGNS:
        before, after = online.rows(repeated, campaign), read.rows(repeated, campaign)
        assert before.tobytes() == after.tobytes()  # bit for bit, NaN included
    saved = json.loads(manifest.read_text())
    assert saved["format"] == 2
    assert (saved["accounts"], saved["data_digest"]) == (len(online.row_of), "d" * 64)
    assert (saved["state_digest"], saved["model_version"]) == (state_digest(online_builder), "3")
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


@pytest.fixture
def snap(online: OnlineFeatures, online_builder: FeatureBuilder, online_data: Dataset,
         tmp_path: Path) -> Path:  # fmt: skip
    """The online world materialized to tmp_path/snap."""
    materialize(online_data, online_builder, tmp_path / "snap", online.as_of)
    return tmp_path / "snap"


def test_another_model_s_feature_state_is_refused(
    snap: Path, online_builder: FeatureBuilder, online_data: Dataset
) -> None:
    other = FeatureBuilder(prior_strength=5.0).fit(online_data)
    with pytest.raises(SnapshotError, match="another fitted feature state") as refused:
        read_snapshot(snap, other)
    assert str(refused.value) == (
        f"{snap} was materialized with another fitted feature state (digest "
        f"{state_digest(online_builder)[:12]}) than the model's ({state_digest(other)[:12]}): "
        "its rows would be wrong for this model; materialize it again with this model."
    )


def test_a_changed_or_missing_file_is_refused(
    snap: Path, online: OnlineFeatures, online_builder: FeatureBuilder, online_data: Dataset
) -> None:
    free = np.load(snap / "free.npy")
    free[0, 0] += 1.0
    np.save(snap / "free.npy", free)
    with pytest.raises(SnapshotError, match="sha256 differs") as refused:
        read_snapshot(snap, online_builder)
    assert str(refused.value).startswith(f"{snap / 'free.npy'} is missing or not the file")
    materialize(online_data, online_builder, snap, online.as_of)  # replaces the changed one
    with (snap / "posts-00000.arrow").open("r+b") as posts:  # one byte of the mapped posts
        posts.seek(4096)
        byte = posts.read(1)
        posts.seek(4096)
        posts.write(bytes([byte[0] ^ 1]))
    with pytest.raises(SnapshotError, match=r"posts-00000\.arrow is missing or not the file"):
        read_snapshot(snap, online_builder)
    materialize(online_data, online_builder, snap, online.as_of)
    (snap / "captions.parquet").unlink()
    with pytest.raises(SnapshotError, match=r"captions\.parquet is missing"):
        read_snapshot(snap, online_builder)
    (snap / MANIFEST).unlink()
    with pytest.raises(SnapshotError, match="is not a snapshot") as refused:
        read_snapshot(snap, online_builder)
    assert str(refused.value) == f"{snap} is not a snapshot: it has no {MANIFEST}."
    (snap / MANIFEST).write_text(json.dumps({"format": 1}))
    with pytest.raises(SnapshotError, match="format 1") as refused:
        read_snapshot(snap, online_builder)
    assert str(refused.value) == (
        f"{snap / MANIFEST} is in snapshot format 1; this version reads format 2: "
        "materialize it again."
    )


def test_a_failed_write_leaves_the_snapshot_there_before(
    snap: Path, online: OnlineFeatures, online_builder: FeatureBuilder, online_data: Dataset
) -> None:
    before = {p.name: p.read_bytes() for p in snap.iterdir()}

    def full_disk(work: Path) -> list[str]:
        (work / "posts-00000.arrow").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_snapshot(
            online, online_builder, snap,
            tables={n: getattr(online_data, n) for n in ("accounts", "campaigns", "placements")},
            norms=tier_norms(online_data.posts, online.as_of), posts=full_disk, posts_objects=[],
        )  # fmt: skip
    assert {p.name: p.read_bytes() for p in snap.iterdir()} == before
    assert sorted(p.name for p in snap.parent.iterdir()) == ["snap"]
    assert pd.Timestamp(json.loads((snap / MANIFEST).read_text())["as_of"]) == online.as_of
