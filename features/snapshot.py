"""A materialized online snapshot: what a service reads of the data, written once to files.

A service that reads the whole data directory and recomputes every account's features at
each start-up and reload waits minutes at agency scale (issue 17). This module is the
step between the offline engine and the service, as a feature store's `materialize` is:
`materialize` computes, as of one moment and with a model's fitted builder, every known
account's campaign-free feature row and recent-caption profile (`OnlineFeatures`), the
follower tiers' norms the account page reads, and writes them beside the histories
themselves (posts memory-mapped per account, `features.histories`) and the small tables.
`read_snapshot` gives back a `Snapshot` whose answers are, to the bit, those of the raw
data: the same `OnlineFeatures` rows, the same per-account frames.

The folder holds NumPy arrays (`allow_pickle=False`), Parquet and Arrow IPC tables and
`snapshot.json`: the format version, the as-of moment, the fitted builder's state digest
(`state_digest`), the lineage given (data digest, model version, source) and each file's
sha256 (`features.snapshot_files`). Nothing in it is unpickled. It is written into a
temporary folder beside the destination and renamed into place. `read_snapshot` refuses,
with `SnapshotError`, a folder whose files do not match their digests or whose state
digest is not the builder's: rows computed with another vocabulary or other priors would
be silently wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.builder import FEATURES, FeatureBuilder
from features.headers import ReadOptions
from features.histories import (
    MappedHistories,
    object_columns,
    objects,
    posts_part_files,
    write_posts_index,
    write_posts_part,
)
from features.io import Dataset
from features.online import OnlineFeatures
from features.profile import TierNorms, tier_norms
from features.relevance import RecentCaptions
from features.snapshot_files import (
    MANIFEST,
    SNAPSHOT_FORMAT,
    SnapshotError,
    building,
    checked_manifest,
    load_array,
    load_sparse,
    save_array,
    save_sparse,
    write_manifest,
)

__all__ = [
    "MANIFEST",
    "SNAPSHOT_FORMAT",
    "Snapshot",
    "SnapshotError",
    "materialize",
    "read_manifest",
    "read_snapshot",
    "read_table",
    "snapshot_lineage",
    "state_digest",
    "write_snapshot",
]

_ARRAYS = ("text_codes", "positions", "counts", "norms")
_SPARSE = ("vectors", "profile")
_TABLES = ("accounts", "campaigns", "placements")
PostsWriter = Callable[[Path], list[str]]
"""Writes a snapshot's posts into the folder given; returns the files it wrote."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot read back: its manifest, online features and histories."""

    manifest: dict[str, Any]
    online: OnlineFeatures
    histories: MappedHistories

    @property
    def as_of(self) -> pd.Timestamp:
        """The moment the snapshot describes the accounts at."""
        return self.online.as_of


def snapshot_lineage(
    digest: str, version: str, data_dir: Path, read: ReadOptions | None = None
) -> dict[str, Any]:
    """What a snapshot records of where it came from, for a service to say: the data's
    digest and directory, how it was read (`--columns`, `--dayfirst`), the model version."""
    read = read or ReadOptions()
    return {
        "data_digest": digest,
        "model_version": version,
        "data_dir": str(Path(data_dir).absolute()),
        "columns_file": read.columns_file,
        "dayfirst": read.dayfirst,
    }


def state_digest(builder: FeatureBuilder) -> str:
    """The sha256 of a fitted builder's state: its parameters, vocabulary (terms in column
    order), IDF weights (their bytes) and priors; equal for builders that build the same
    rows. Takes a fitted `FeatureBuilder`; returns 64 hex digits."""
    builder._check_fitted()
    tfidf = builder.vectorizer_.vectorizer_
    terms = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
    described = {
        "params": {
            "attribution_window_days": builder.attribution_window_days,
            "lookback_days": builder.lookback_days,
            "prior_strength": builder.prior_strength,
            "max_vocabulary": builder.max_vocabulary,
        },
        "features": list(FEATURES),
        "terms": terms,
        "idf": hashlib.sha256(
            np.ascontiguousarray(tfidf.idf_, dtype=np.float64).tobytes()
        ).hexdigest(),
        # repr keeps every bit of a float, as JSON's own formatting does
        "priors": {k: repr(float(v)) for k, v in sorted(builder.priors_.items())},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def materialize(
    data: Dataset,
    builder: FeatureBuilder,
    out: Path,
    as_of: pd.Timestamp,
    lineage: Mapping[str, Any] | None = None,
) -> Path:
    """Compute and write the snapshot of `data` as of `as_of`, for the fitted `builder`.

    Takes the loaded data, the model's builder, the destination folder (replaced if it
    exists), the moment (a service's end of data) and the lineage to record (data
    digest, model version, source). Returns the manifest's path.
    """
    online = OnlineFeatures.build(builder, data, as_of)

    def posts(work: Path) -> list[str]:
        index = write_posts_part(work, 0, data.posts)
        return [*posts_part_files(0), write_posts_index(work, [index])]

    return write_snapshot(
        online,
        builder,
        out,
        tables={n: getattr(data, n) for n in _TABLES},
        norms=tier_norms(data.posts, as_of),
        posts=posts,
        posts_objects=object_columns(data.posts),
        lineage=lineage,
    )


def write_snapshot(
    online: OnlineFeatures,
    builder: FeatureBuilder,
    out: Path,
    *,
    tables: Mapping[str, pd.DataFrame],
    norms: TierNorms,
    posts: PostsWriter,
    posts_objects: Sequence[str],
    lineage: Mapping[str, Any] | None = None,
) -> Path:
    """Write a snapshot's parts to the folder `out`, replacing it if it exists.

    Takes the online features, the fitted builder they were built with, the destination,
    the `accounts`, `campaigns` and `placements` tables (stored whole), the tier norms,
    the writer of the posts (`materialize`'s, or the Dask engine's, which writes each part
    on its worker), the posts' `object_columns` and the lineage to record.
    Returns the manifest's path. A failure leaves whatever was at `out` before.
    """
    out = Path(out)
    with building(out) as work:
        captions = online.captions
        accounts = sorted(online.row_of, key=online.row_of.__getitem__)
        files = [
            save_array(work, "free", online.free),
            *(save_array(work, n, getattr(captions, n)) for n in _ARRAYS),
            *(f for n in _SPARSE for f in save_sparse(work, n, getattr(captions, n))),
        ]
        pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}).to_parquet(
            work / "online_accounts.parquet", index=False
        )
        texts = {"text": captions.texts.tolist(), "lowered": captions.lowered.tolist()}
        pd.DataFrame(texts, dtype=object).to_parquet(work / "captions.parquet", index=False)
        stored = {
            **{n: tables[n] for n in _TABLES},
            "norms_weekly": norms.weekly,
            "norms_recent": norms.recent,
        }
        for name, frame in stored.items():  # with their row labels, as frames taken show
            frame.to_parquet(work / f"{name}.parquet", index=True)
        files += ["online_accounts.parquet", "captions.parquet"]
        files += [f"{n}.parquet" for n in stored]
        files += posts(work)
        objects_of = {n: object_columns(f) for n, f in stored.items()}
        manifest = {
            "as_of": pd.Timestamp(online.as_of).isoformat(),
            "state_digest": state_digest(builder),
            **dict(lineage or {}),
            "accounts": len(accounts),
            "objects": {**objects_of, "posts": list(posts_objects)},
            "shapes": {n: list(getattr(captions, n).shape) for n in _SPARSE},
        }
        write_manifest(work, manifest, files)
    return out / MANIFEST


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a snapshot folder, its format checked but not its files' digests
    (a quick look: `read_snapshot` checks them all). SnapshotError when it cannot be read."""
    return checked_manifest(Path(folder), files=False)


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """One of a snapshot's small tables (`accounts`, `campaigns`, `placements`), as it was
    written, for a quick look before a service reads the whole snapshot."""
    if name not in _TABLES:
        raise ValueError(f"a snapshot stores no table {name!r}; it stores {', '.join(_TABLES)}")
    kinds = read_manifest(folder)["objects"][name]
    return objects(pd.read_parquet(Path(folder) / f"{name}.parquet"), kinds)


def read_snapshot(folder: Path, builder: FeatureBuilder) -> Snapshot:
    """The `Snapshot` written to `folder`, for the fitted `builder` it was built with.

    Every file is checked against its sha256 in the manifest before it is loaded, and the
    manifest's state digest against `builder`'s. Raises SnapshotError, in one sentence
    naming the file or the digests, when a check fails. The posts are memory-mapped, not
    read: a request reads the pages of its accounts.
    """
    folder = Path(folder)
    manifest = checked_manifest(folder)
    expected, found = state_digest(builder), manifest.get("state_digest")
    if found != expected:
        raise SnapshotError(
            f"{folder} was materialized with another fitted feature state (digest "
            f"{str(found)[:12]}) than the model's ({expected[:12]}): its rows would be "
            "wrong for this model; materialize it again with this model."
        )
    accounts = pd.read_parquet(folder / "online_accounts.parquet")["account_id"].tolist()
    texts = pd.read_parquet(folder / "captions.parquet")
    captions = RecentCaptions(
        texts=texts["text"].to_numpy(dtype=object),
        lowered=texts["lowered"].to_numpy(dtype=object),
        vectors=load_sparse(folder, manifest, "vectors"),
        text_codes=load_array(folder, manifest, "text_codes"),
        positions=load_array(folder, manifest, "positions"),
        counts=load_array(folder, manifest, "counts"),
        profile=load_sparse(folder, manifest, "profile"),
        norms=load_array(folder, manifest, "norms"),
    )
    as_of = pd.Timestamp(manifest["as_of"])
    free = load_array(folder, manifest, "free")
    online = OnlineFeatures.assemble(builder, as_of, free, accounts, captions)
    kinds = manifest["objects"]
    stored = {
        n: objects(pd.read_parquet(folder / f"{n}.parquet"), kinds[n])
        for n in (*_TABLES, "norms_weekly", "norms_recent")
    }
    norms = TierNorms(weekly=stored["norms_weekly"], recent=stored["norms_recent"])
    histories = MappedHistories.open(folder, stored, norms, as_of, kinds["posts"])
    return Snapshot(manifest=manifest, online=online, histories=histories)
