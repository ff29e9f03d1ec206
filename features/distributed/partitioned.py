"""The tables as the Dask engine holds them: small ones on the driver, posts on the workers.

`PartitionedData` is what `load_partitioned` returns and what the fit and the
transform read. A bucket's posts are kept compact (text as Arrow strings) and
expanded per task (`posts_until`), with the columns `coerce_table` gives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import POSTS, TABLES, Kind, TableSpec
from features.errors import Problem

__all__ = ["Future", "PartitionedData", "compact", "empty_table", "posts_until"]

Future = Any
"""A `distributed.Future` holding one bucket's frame (its methods are untyped upstream)."""


@dataclass(frozen=True)
class PartitionedData:
    """The four tables with the posts on the workers, in buckets of accounts.

    `accounts`, `campaigns` and `placements` are typed frames on the driver; `posts`
    holds one future per bucket: the typed posts of the accounts of that bucket,
    indexed by their row in the posts table. `until`, when set, hides posts and
    placements from then on (as `features.io.Dataset.known_until` does).
    """

    client: Any
    """The `distributed.Client` (typed loosely: its gather and scatter are untyped)."""
    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    placements: pd.DataFrame
    posts: list[Future]
    warnings: tuple[Problem, ...] = ()
    until: pd.Timestamp | None = None

    @property
    def buckets(self) -> int:
        """How many partitions of accounts the data is split into."""
        return len(self.posts)

    def known_until(self, until: pd.Timestamp | None) -> PartitionedData:
        """The data as it stood at `until`: later posts and placements hidden."""
        if until is None:
            return self
        placements = self.placements[self.placements["posted_at"] < until]
        return replace(self, placements=placements, until=until)

    def latest_post(self) -> pd.Timestamp:
        """The latest post's time (NaT without posts), from every bucket's own latest."""
        latest = self.client.gather(
            [self.client.submit(_latest_post, p, self.until) for p in self.posts]
        )
        known: list[pd.Timestamp] = [t for t in latest if pd.notna(t)]
        return max(known) if known else cast(pd.Timestamp, pd.NaT)

    def digest(self) -> str:
        """The sha256 that `Dataset.digest` gives for the same tables (rows in file order)."""
        h = hashlib.sha256()
        for name in TABLES:
            h.update(name.encode())
            if name != "posts":
                frame: pd.DataFrame = getattr(self, name)
                h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
                continue
            parts = self.client.gather(
                [self.client.submit(_row_hashes, p, self.until) for p in self.posts]
            )
            rows = np.concatenate([r for r, _ in parts])
            hashes = np.concatenate([v for _, v in parts])
            h.update(hashes[np.argsort(rows, kind="stable")].tobytes())
        return h.hexdigest()


_STRINGS = [c.name for c in POSTS.columns if c.kind is Kind.STRING]
"""Posts' text columns: kept on the workers as Arrow strings, a third of Python objects."""


def compact(posts: pd.DataFrame) -> pd.DataFrame:
    """Posts as a bucket holds them: text columns as Arrow strings (values unchanged)."""
    return posts.astype({c: "string[pyarrow]" for c in _STRINGS if c in posts})


def posts_until(posts: pd.DataFrame, until: pd.Timestamp | None) -> pd.DataFrame:
    """A bucket's posts before `until`, with the columns `coerce_table` gives (objects, None)."""
    if not len(posts.columns):  # a bucket without posts
        return empty_table(POSTS)
    kept = posts if until is None else posts[posts["posted_at"] < until]
    expanded = kept.copy()
    for c in _STRINGS:
        if c in expanded:
            values = expanded[c]
            expanded[c] = values.astype(object).where(values.notna(), None)
    return expanded


def _latest_post(posts: pd.DataFrame, until: pd.Timestamp | None) -> pd.Timestamp:
    if not len(posts.columns):
        return cast(pd.Timestamp, pd.NaT)
    times = posts["posted_at"]
    latest = (times if until is None else times[times < until]).max()
    return pd.Timestamp(latest)


def _row_hashes(
    posts: pd.DataFrame, until: pd.Timestamp | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    kept = posts_until(posts, until)
    hashes = np.asarray(pd.util.hash_pandas_object(kept, index=False), dtype=np.uint64)
    return np.asarray(kept.index, dtype=np.int64), hashes


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table of `spec` without rows (object columns), for a table or bucket with none."""
    return pd.DataFrame({name: pd.Series(dtype=object) for name in spec.names})
