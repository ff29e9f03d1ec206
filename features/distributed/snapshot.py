"""The Dask engine's snapshot: `materialize_partitioned`, the pandas `materialize` bucket by bucket.

`features.snapshot.materialize` reads every post on one machine. Here each worker
describes the accounts of its own buckets (`OnlineParts.build`: their campaign-free rows
and recent captions, which depend on each account's rows alone) and writes their posts
part into the snapshot's folder itself; the driver merges the small pieces into the
order the pandas engine gives (`OnlineParts.merge`) and writes the rest with
`write_snapshot`. The files are the pandas engine's, byte for byte, but for the posts
parts and their index, which are split by bucket instead of being one part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.builder import FeatureBuilder
from features.distributed.partitioned import Future, PartitionedData, posts_until
from features.histories import object_columns, posts_part_files, write_posts_index, write_posts_part
from features.io import Dataset, account_buckets
from features.online import OnlineFeatures, OnlineParts
from features.profile import TierNorms, _prepared, _recent_norms, _recent_ratios, _weekly
from features.snapshot import write_snapshot

__all__ = ["materialize_partitioned"]

_TABLES = ("accounts", "campaigns", "placements")
_WEEKLY = ["tier", "week", "er"]


def _split(frame: pd.DataFrame, buckets: int) -> list[pd.DataFrame]:
    bucket = account_buckets(frame["account_id"], buckets)
    return [frame[bucket == b] for b in range(buckets)]


def _posts_of(posts: pd.DataFrame, until: pd.Timestamp | None) -> pd.DataFrame:
    return posts_until(posts, until)


def _has_posts(posts: pd.DataFrame) -> bool:
    return len(posts) > 0


def _online(
    builder: FeatureBuilder,
    accounts: pd.DataFrame,
    posts: pd.DataFrame,
    campaigns: pd.DataFrame,
    placements: pd.DataFrame,
    as_of: pd.Timestamp,
) -> OnlineParts:
    return OnlineParts.build(builder, Dataset(accounts, posts, campaigns, placements), as_of)


def _norm_inputs(posts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return _prepared(posts, as_of)


def _weekly_share(frame: pd.DataFrame, reducer: int, reducers: int) -> pd.DataFrame:
    """The posts of the (tier, week) groups that `reducer` takes: hashed, so whole groups."""
    keys = pd.util.hash_pandas_object(frame[["tier", "week"]], index=False).to_numpy()
    share: pd.DataFrame = frame.loc[keys % np.uint64(reducers) == reducer, _WEEKLY]
    return share


def _weekly_of(shares: Sequence[pd.DataFrame]) -> pd.Series:
    return _weekly(pd.concat(list(shares), ignore_index=True))


def _recent_of(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return _recent_ratios(frame, as_of)


def _tier_norms(client: Any, posts: Sequence[Future], as_of: pd.Timestamp) -> TierNorms:
    """`tier_norms` of every post, from the buckets' prepared posts (`posts`, on the workers).

    The weekly medians need every post of a (tier, week) group in one place: each bucket
    sends each group's tier, week and engagement rate to the one task (of as many as
    buckets) that takes it, worker to worker; the driver receives the medians. The recent
    ratios are per account, so each bucket computes its own accounts' (four numbers each)
    and the driver takes the median over the accounts of each tier.
    """
    frames = [client.submit(_norm_inputs, p, as_of) for p in posts]
    n = len(frames)
    medians = [
        client.submit(
            _weekly_of, [client.submit(_weekly_share, f, r, n, pure=False) for f in frames]
        )
        for r in range(n)
    ]
    found: list[pd.Series] = client.gather(medians)
    shown = [m for m in found if len(m)]
    weekly = pd.concat(shown).sort_index() if shown else found[0]
    per_account = pd.concat(client.gather([client.submit(_recent_of, f, as_of) for f in frames]))
    return TierNorms(
        weekly=weekly.reset_index(), recent=_recent_norms(per_account.sort_index(kind="stable"))
    )


def _schema(posts: pd.DataFrame) -> pa.Schema:
    return pa.Schema.from_pandas(posts, preserve_index=False)


def _write_part(folder: Path, part: int, posts: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    return write_posts_part(folder, part, posts, schema)


def materialize_partitioned(
    data: PartitionedData,
    builder: FeatureBuilder,
    out: Path,
    as_of: pd.Timestamp,
    lineage: Mapping[str, Any] | None = None,
) -> Path:
    """Compute and write, on the cluster, the snapshot `features.snapshot.materialize` writes.

    Takes the partitioned data, the model's fitted builder, the destination folder
    (replaced if it exists), the moment and the lineage to record. Returns the manifest's
    path. Every file is the pandas engine's for the same data, to the byte, but the posts:
    one part per bucket that has posts (`posts-00000.arrow`, ... numbered in bucket order,
    so that a bucket without posts leaves no gap) and their index, which read back
    (`read_snapshot(...).histories.take`) as the same frames, row labels included.

    The posts stay on the workers. Each worker writes its buckets' parts itself, into the
    snapshot's temporary folder beside `out`: the workers must see the driver's
    filesystem there (a local cluster does; a remote one needs `out` on a shared volume).
    What travels to the driver: per account, its campaign-free row and recent-caption
    piece (texts, TF-IDF rows, profile), its recent ratios (four numbers) and its posts
    index row; per (tier, week), the median engagement rate. The per-post values those
    medians need (tier, week, engagement rate) travel between workers only. Raises
    ValueError when no bucket has a post: there is nothing to describe.
    """
    client = data.client
    n = data.buckets
    posts = [client.submit(_posts_of, p, data.until, pure=False) for p in data.posts]
    filled = client.gather([client.submit(_has_posts, p) for p in posts])
    kept = [b for b in range(n) if filled[b]]
    if not kept:
        raise ValueError("the partitioned data has no posts: a snapshot needs at least one")
    accounts, placements = _split(data.accounts, n), _split(data.placements, n)
    shared = client.scatter([builder, data.campaigns], broadcast=True, hash=False)
    pieces = client.gather(
        [
            client.submit(
                _online, shared[0], accounts[b], posts[b], shared[1], placements[b], as_of
            )
            for b in kept
        ]
    )
    parts = OnlineParts.merge(pieces)
    online = OnlineFeatures.assemble(builder, as_of, parts.free, parts.accounts, parts.captions)
    norms = _tier_norms(client, [posts[b] for b in kept], as_of)
    objects_of = client.submit(object_columns, posts[kept[0]]).result()
    # One schema for every part, so that a read across parts concatenates them: a bucket
    # whose posts all lack a text would infer a null column where the others have strings.
    schema = pa.unify_schemas(client.gather([client.submit(_schema, posts[b]) for b in kept]))

    def write_posts(work: Path) -> list[str]:
        index = client.gather(
            [client.submit(_write_part, work, k, posts[b], schema) for k, b in enumerate(kept)]
        )
        files = [f for k in range(len(kept)) for f in posts_part_files(k)]
        return [*files, write_posts_index(work, index)]

    return write_snapshot(
        online,
        builder,
        out,
        tables={name: getattr(data, name) for name in _TABLES},
        norms=norms,
        posts=write_posts,
        posts_objects=objects_of,
        lineage=lineage,
    )
