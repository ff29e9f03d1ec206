"""Fit and apply the `FeatureBuilder` on partitioned data, bucket by bucket.

`fit_builder` learns exactly the state `FeatureBuilder.fit` learns: workers count
terms and find followers per bucket, the driver adds and pools them. `map_buckets`
runs a function per bucket of accounts (the transform, batch scoring) and returns
the rows in the targets' order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FeatureBuilder
from features.distributed.partitioned import Future, PartitionedData, posts_until
from features.history import prepare_posts
from features.io import account_buckets
from features.track_record import followers_at, pooled_priors
from features.vocabulary import Analyzer, TermCounts, analyzer, term_counts, vocabulary_from_counts

__all__ = ["BucketFn", "fit_builder", "map_buckets", "transform"]

BucketFn = Callable[[Any, pd.DataFrame], pd.DataFrame]
"""What `map_buckets` runs: (one bucket's `Dataset`, its targets) -> one row per target."""


def _posts_terms(posts: pd.DataFrame, until: pd.Timestamp | None, analyze: Analyzer) -> TermCounts:
    kept = posts_until(posts, until)
    texts = kept["text"] if "text" in kept else pd.Series(dtype=object)
    return term_counts(texts, analyze)


def _followers(
    posts: pd.DataFrame, placements: pd.DataFrame, until: pd.Timestamp | None
) -> pd.Series:
    if placements.empty:
        return pd.Series(np.nan, index=placements.index)
    return followers_at(placements, prepare_posts(posts_until(posts, until)))


def _split(frame: pd.DataFrame, buckets: int) -> tuple[list[pd.DataFrame], npt.NDArray[np.int64]]:
    bucket = account_buckets(frame["account_id"], buckets)
    return [frame[bucket == b] for b in range(buckets)], bucket


def fit_builder(
    data: PartitionedData, builder: FeatureBuilder, until: pd.Timestamp | None = None
) -> FeatureBuilder:
    """Fit `builder` on partitioned data: the same state `builder.fit(data, until)` learns.

    Workers count terms of their posts and find each training placement's followers;
    the driver adds the counts (`vocabulary_from_counts`) and pools the priors in the
    placements' order (`pooled_priors`). Only counts and one number per placement
    travel to the driver. Returns the fitted builder.
    """
    client = data.client
    posts_until = min((t for t in (until, data.until) if t is not None), default=None)
    placements = data.placements
    if until is not None:
        window = pd.Timedelta(days=builder.attribution_window_days)
        placements = placements[placements["posted_at"] + window <= until]
    campaigns = data.campaigns
    briefs = campaigns.loc[campaigns["campaign_id"].isin(placements["campaign_id"]), "topic"]
    analyze = analyzer(builder.max_vocabulary)
    counts = client.gather(
        [client.submit(_posts_terms, p, posts_until, analyze) for p in data.posts]
    )
    vectorizer = vocabulary_from_counts(
        [*counts, term_counts(briefs, analyze)], builder.max_vocabulary
    )
    pieces, _ = _split(placements, data.buckets)
    followers = client.gather(
        [
            client.submit(_followers, p, piece, posts_until)
            for p, piece in zip(data.posts, pieces, strict=True)
        ]
    )
    gathered = [f for f in followers if len(f)]
    series = pd.concat(gathered) if gathered else pd.Series(dtype=float)
    return builder.set_state(
        vectorizer, pooled_priors(placements, series.reindex(placements.index))
    )


def _run(
    fn: BucketFn,
    accounts: pd.DataFrame,
    posts: pd.DataFrame,
    campaigns: pd.DataFrame,
    placements: pd.DataFrame,
    targets: pd.DataFrame,
    until: pd.Timestamp | None,
) -> pd.DataFrame:
    from features.io import Dataset

    data = Dataset(accounts, posts_until(posts, until), campaigns, placements)
    return fn(data, targets)


def map_buckets(data: PartitionedData, fn: BucketFn, targets: pd.DataFrame) -> pd.DataFrame:
    """Apply `fn(dataset, targets)` per bucket of accounts; return the rows in `targets` order.

    `fn` receives a `Dataset` of one bucket (its accounts, posts and placements, all
    campaigns) and the targets of that bucket, and returns one row per target in
    their order (as `FeatureBuilder.transform` and `score_placements` do). It runs on
    the workers, so it must be picklable; anything it holds is sent along.
    """
    client = data.client
    n = data.buckets
    target_parts, bucket = _split(targets, n)
    account_parts, _ = _split(data.accounts, n)
    placement_parts, _ = _split(data.placements, n)
    campaigns = client.scatter(data.campaigns, broadcast=True, hash=False)
    remote_fn = client.scatter(fn, broadcast=True, hash=False)
    futures: list[Future] = []
    positions: list[npt.NDArray[np.intp]] = []
    for b in range(n):
        rows = np.flatnonzero(bucket == b)
        if rows.size == 0 and (futures or b < n - 1):
            continue
        futures.append(
            client.submit(
                _run,
                remote_fn,
                account_parts[b],
                data.posts[b],
                campaigns,
                placement_parts[b],
                target_parts[b],
                data.until,
                pure=False,
            )
        )
        positions.append(rows)
    parts = client.gather(futures)
    out: pd.DataFrame = pd.concat(parts, ignore_index=True)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def transform(
    data: PartitionedData, builder: FeatureBuilder, targets: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`builder.transform` per bucket of accounts: the same table, row for row.

    Takes partitioned data, a fitted builder (sent to every worker once) and the
    placements to describe (default: all). Returns the feature table in the targets'
    order, gathered on the driver (one row per placement).
    """
    return map_buckets(data, builder.transform, data.placements if targets is None else targets)
