"""Account histories that a service reads one account at a time: in memory, or from a snapshot.

A service answers about a few accounts per request (a profile, a candidate scored as of a
past moment), so it needs each account's own posts and placements, not the whole tables.
`MemoryHistories` indexes a loaded `Dataset`; `MappedHistories` reads a materialized
snapshot's files (`features.snapshot`), where the posts are Arrow IPC files memory-mapped,
sorted by account, so that start-up reads none of them and a request reads only its
accounts' pages. Both give the same frames for the same accounts, row labels included
(tests/features/test_histories.py), so every answer is the same from either.

The posts of a snapshot are written in parts (`write_posts_part`, one per partition of
accounts: the Dask engine writes each on its worker) and one index over them
(`write_posts_index`): per account, its part, first row and row count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from features.io import Dataset
from features.profile import TierNorms, tier_norms

__all__ = [
    "POSTS_INDEX",
    "Histories",
    "MappedHistories",
    "MemoryHistories",
    "object_columns",
    "objects",
    "posts_part_files",
    "write_posts_index",
    "write_posts_part",
]

POSTS_INDEX = "posts_index.parquet"
Rows = npt.NDArray[np.intp]


class Histories(Protocol):
    """What a service reads of account histories (`MemoryHistories`, `MappedHistories`)."""

    @property
    def campaigns(self) -> pd.DataFrame:
        """The campaigns table, whole (it is small)."""
        ...

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table, whole, in file order (it is small beside the posts)."""
        ...

    def post_counts(self) -> Mapping[str, int]:
        """Per account with at least one post, its number of posts; ids in sorted order."""
        ...

    def knows(self, account_id: str) -> bool:
        """Whether the account has at least one post."""
        ...

    def take(self, account_ids: Sequence[str]) -> Dataset:
        """The tables restricted to `account_ids` (campaigns left empty): each account's
        rows together, in the order the ids come (repeats once), each in file order."""
        ...

    def norms(self, as_of: pd.Timestamp) -> TierNorms:
        """What accounts of each follower tier typically show as of `as_of`."""
        ...


def _index(frame: pd.DataFrame) -> dict[str, Rows]:
    groups = frame.groupby("account_id", sort=True).indices
    return {str(k): np.asarray(v, dtype=np.intp) for k, v in groups.items()}


def _take(frame: pd.DataFrame, index: Mapping[str, Rows], ids: Sequence[str]) -> pd.DataFrame:
    found = [index[i] for i in dict.fromkeys(ids) if i in index]
    rows = np.concatenate(found) if found else np.array([], dtype=np.intp)
    return frame.iloc[rows]


@dataclass(frozen=True)
class MemoryHistories:
    """The histories of a `Dataset` held in memory, indexed per account."""

    data: Dataset
    posts_of: Mapping[str, Rows] = field(init=False)
    placements_of: Mapping[str, Rows] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "posts_of", _index(self.data.posts))
        object.__setattr__(self, "placements_of", _index(self.data.placements))

    @property
    def campaigns(self) -> pd.DataFrame:
        """The campaigns table."""
        return self.data.campaigns

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table."""
        return self.data.placements

    def post_counts(self) -> Mapping[str, int]:
        """Per account with posts, how many."""
        return {a: len(rows) for a, rows in self.posts_of.items()}

    def knows(self, account_id: str) -> bool:
        """Whether the account has a post."""
        return account_id in self.posts_of

    def take(self, account_ids: Sequence[str]) -> Dataset:
        """The accounts' rows of each table (campaigns empty)."""
        accounts = self.data.accounts
        return Dataset(
            accounts=accounts[accounts["account_id"].isin(list(account_ids))],
            posts=_take(self.data.posts, self.posts_of, account_ids),
            campaigns=self.data.campaigns.iloc[0:0],
            placements=_take(self.data.placements, self.placements_of, account_ids),
        )

    def norms(self, as_of: pd.Timestamp) -> TierNorms:
        """The tier norms, computed from every post (about 0.8 s of CPU per million)."""
        return tier_norms(self.data.posts, as_of)


def object_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of `frame` held as Python objects (the contract reader's text columns),
    and `"(index)"` when its index is: what `objects` restores after Arrow or Parquet,
    which read text back as pandas' string dtype."""
    named = [str(c) for c, t in frame.dtypes.items() if t == np.dtype(object)]
    return [*named, "(index)"] if frame.index.dtype == np.dtype(object) else named


def objects(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame` with `columns` (`object_columns` of the frame written) as object dtype."""
    named = [c for c in columns if c != "(index)" and c in frame.columns]
    if named:
        frame = frame.astype(dict.fromkeys(named, object))
    if "(index)" in columns:
        frame.index = frame.index.astype(object)
    return frame


def posts_part_files(part: int) -> tuple[str, str]:
    """The files of posts part `part`: its Arrow table and its rows' labels."""
    return f"posts-{part:05d}.arrow", f"posts-{part:05d}.rows.npy"


def write_posts_part(
    folder: Path, part: int, posts: pd.DataFrame, schema: pa.Schema | None = None
) -> pd.DataFrame:
    """Write one partition's posts to `folder`, sorted by account (stably, so each
    account's posts stay in file order), as an uncompressed Arrow IPC file (memory-mapped
    when read) beside their row labels (`.npy`, no pickle).

    Takes the folder, the part's number, the typed posts of its accounts (no account
    may be in two parts) and the Arrow schema of every part (default: the one these posts
    infer; parts read together need one, and a part whose text is all missing would
    infer a null column). Returns the part's index: `account_id`, `part`, `start`, `count`.
    """
    table_file, rows_file = posts_part_files(part)
    codes, accounts = pd.factorize(posts["account_id"].astype(object), sort=True)
    order = np.argsort(codes, kind="stable")
    ordered = posts.iloc[order]
    table = pa.Table.from_pandas(ordered, schema=schema, preserve_index=False)
    with (
        pa.OSFile(str(folder / table_file), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    np.save(folder / rows_file, np.asarray(ordered.index, dtype=np.int64), allow_pickle=False)
    counts = np.bincount(codes, minlength=len(accounts)).astype(np.int64)
    return pd.DataFrame(
        {
            "account_id": pd.Series(np.asarray(accounts, dtype=object), dtype=object),
            "part": np.full(len(accounts), part, dtype=np.int64),
            "start": np.cumsum(counts) - counts,
            "count": counts,
        }
    )


def write_posts_index(folder: Path, pieces: Sequence[pd.DataFrame]) -> str:
    """Write the index of every part's posts (`write_posts_part`'s answers) as one table
    sorted by account; returns its file name. Raises ValueError for an account in two."""
    index = pd.concat(list(pieces), ignore_index=True).sort_values("account_id", kind="stable")
    twice = index["account_id"].duplicated()
    if twice.any():
        raise ValueError(f"accounts in two parts of the posts: {index['account_id'][twice][:5]}")
    index.reset_index(drop=True).to_parquet(folder / POSTS_INDEX, index=False)
    return POSTS_INDEX


@dataclass(frozen=True)
class MappedHistories:
    """The histories of a snapshot folder: posts memory-mapped, the rest in memory.

    `index` is the posts' index (`write_posts_index`); `parts` the posts of each part
    (Arrow tables over memory-mapped files) and `labels` their row labels (arrays over
    memory-mapped files); `stored_norms` the tier norms as of `as_of`; `posts_objects`
    the posts' `object_columns`, restored on each read.
    """

    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    placements: pd.DataFrame
    index: pd.DataFrame
    parts: Sequence[pa.Table]
    labels: Sequence[npt.NDArray[np.int64]]
    stored_norms: TierNorms
    as_of: pd.Timestamp
    posts_objects: Sequence[str]

    @classmethod
    def open(
        cls,
        folder: Path,
        tables: Mapping[str, pd.DataFrame],
        norms: TierNorms,
        as_of: pd.Timestamp,
        posts_objects: Sequence[str],
    ) -> MappedHistories:
        """Map the posts parts of `folder` (its index says which), beside the small tables
        already read (`accounts`, `campaigns`, `placements`), the stored norms and the
        posts' `object_columns`."""
        index = objects(pd.read_parquet(folder / POSTS_INDEX), ["account_id"])
        parts, labels = [], []
        for part in range(int(index["part"].max()) + 1 if len(index) else 0):
            table_file, rows_file = posts_part_files(part)
            source = pa.memory_map(str(folder / table_file), "r")
            parts.append(pa.ipc.open_file(source).read_all())
            labels.append(np.load(folder / rows_file, mmap_mode="r", allow_pickle=False))
        return cls(
            accounts=tables["accounts"],
            campaigns=tables["campaigns"],
            placements=tables["placements"],
            index=index,
            parts=parts,
            labels=labels,
            stored_norms=norms,
            as_of=as_of,
            posts_objects=list(posts_objects),
        )

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.index["account_id"]) if self._counts[i] > 0}

    @cached_property
    def _counts(self) -> npt.NDArray[np.int64]:
        return self.index["count"].to_numpy(dtype=np.int64)

    @cached_property
    def _placements_of(self) -> dict[str, Rows]:
        return _index(self.placements)

    def post_counts(self) -> Mapping[str, int]:
        """Per account with posts, how many."""
        return {a: int(self._counts[i]) for a, i in self._row_of.items()}

    def knows(self, account_id: str) -> bool:
        """Whether the account has a post."""
        return account_id in self._row_of

    def take(self, account_ids: Sequence[str]) -> Dataset:
        """The accounts' rows of each table (campaigns empty), reading only their posts."""
        rows = [self._row_of[a] for a in dict.fromkeys(account_ids) if a in self._row_of]
        parts = self.index["part"].to_numpy()
        starts = self.index["start"].to_numpy()
        pieces = [self.parts[parts[r]].slice(starts[r], self._counts[r]) for r in rows]
        labels = [self.labels[parts[r]][starts[r] : starts[r] + self._counts[r]] for r in rows]
        schema = self.parts[0].slice(0, 0) if self.parts else pa.table({})
        found = pa.concat_tables(pieces) if pieces else schema
        posts = objects(found.to_pandas(), self.posts_objects)
        posts.index = pd.Index(np.concatenate(labels) if labels else np.array([], np.int64))
        accounts = self.accounts
        return Dataset(
            accounts=accounts[accounts["account_id"].isin(list(account_ids))],
            posts=posts,
            campaigns=self.campaigns.iloc[0:0],
            placements=_take(self.placements, self._placements_of, account_ids),
        )

    def norms(self, as_of: pd.Timestamp) -> TierNorms:
        """The norms stored with the snapshot, as of its own moment."""
        if as_of != self.as_of:
            raise ValueError(f"the snapshot's norms are as of {self.as_of}, not {as_of}")
        return self.stored_norms
