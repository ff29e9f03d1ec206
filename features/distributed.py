"""The Dask engine for features: the pandas `FeatureBuilder`, run per partition of accounts.

A data directory's posts (the big table) are read, validated and kept on the
workers of a Dask cluster, split into buckets of accounts (`account_buckets`: a
stable hash of `account_id`), so that bucket i holds every post of its accounts.
The other tables (accounts, campaigns, placements) are small and stay on the
driver, validated exactly as `features.io.load_dataset` validates them; the
placements of bucket i go with the posts of bucket i.

- Validation: each posts file is checked by `coerce_table` on a worker; problems
  are merged with rows numbered in the whole table, duplicates are found across
  files (rows bucketed by `post_id`), and references are checked against the
  small tables. The problems are the pandas engine's, in its order (put back by
  rule and column with `report_order`, never by their wording).
- Fit: the vocabulary and the priors are fitted once and are identical to what
  `FeatureBuilder.fit` learns on the same data. Workers count terms and documents
  per bucket; the driver adds the counts and selects and weighs terms exactly as
  scikit-learn's `TfidfVectorizer` does (`vocabulary_from_counts`). Workers
  compute each placement's followers (`followers_at`); the driver pools them in
  the placements' order (`pooled_priors`), so every sum is the same sum.
- Transform: `FeatureBuilder.transform`, unchanged, per bucket (it is partition-
  invariant), with the fitted builder sent to the workers; rows come back in the
  targets' order.

Nothing here starts a cluster at import: Dask is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FeatureBuilder
from features.contract import PLACEMENTS, POSTS, TABLES, Kind, TableSpec
from features.errors import DataContractError, FeaturesError, Problem, Rule
from features.history import prepare_posts
from features.io import _locate, account_buckets, not_a_directory, read_table_file
from features.track_record import followers_at, pooled_priors
from features.validate import (
    DUPLICATE_IDS,
    DUPLICATE_ROWS,
    TABLE_RULES,
    check_references,
    coerce_table,
    first_placements,
    posts_before,
    report_order,
    thin_history_warnings,
)
from features.vocabulary import Analyzer, TermCounts, analyzer, term_counts, vocabulary_from_counts

if TYPE_CHECKING:
    from distributed import Client

Future = Any
"""A `distributed.Future` holding one bucket's frame (its methods are untyped upstream)."""

__all__ = [
    "INSTALL_HINT",
    "PartitionedData",
    "dask_client",
    "fit_builder",
    "load_partitioned",
    "map_buckets",
    "require_dask",
    "transform",
    "worker_addresses",
]

INSTALL_HINT = (
    "The dask engine needs Dask, which is not installed here: pip install 'influence[dask]'."
)

BucketFn = Callable[[Any, pd.DataFrame], pd.DataFrame]


def require_dask() -> Any:
    """Import `distributed` (and `dask.dataframe`), or raise FeaturesError saying how to install.

    Returns the `distributed` module. Called by every function that needs a cluster,
    so that the pandas engine never imports Dask.
    """
    try:
        import dask.dataframe  # noqa: F401 - checks the extra is complete
        import distributed
    except ImportError as e:
        raise FeaturesError(INSTALL_HINT) from e
    return distributed


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None, workers: int = 2, memory_limit: str | None = None
) -> Iterator[Client]:
    """A Dask client: on the scheduler at `scheduler`, else on a local cluster, closed after.

    The local cluster has `workers` processes of one thread each (LightGBM and the
    feature code are single-threaded per task) and `memory_limit` per worker
    ("4GB"; default: Dask's share of the machine). Raises FeaturesError when Dask
    is missing or the scheduler cannot be reached.
    """
    distributed = require_dask()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise FeaturesError(f"Cannot reach the Dask scheduler at {scheduler}: {e}") from e
        with client:
            yield client
        return
    if workers < 1:
        raise FeaturesError(f"--workers must be at least 1, got {workers}.")
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        yield client


def worker_addresses(client: Any) -> list[str]:
    """The addresses of the workers connected now, sorted; waits for at least one.

    Asked of the workers themselves: `client.scheduler_info()` is a cache the client
    refreshes every few seconds, and right after a cluster starts it can list none.
    """
    client.wait_for_workers(1)
    return sorted(client.run(_nothing))


def _nothing() -> None:
    return None


# --- reading and validating, on the workers -----------------------------------------------


@dataclass(frozen=True)
class PartitionedData:
    """The four tables with the posts on the workers, in buckets of accounts.

    `accounts`, `campaigns` and `placements` are typed frames on the driver; `posts`
    holds one future per bucket: the typed posts of the accounts of that bucket,
    indexed by their row in the posts table. `until`, when set, hides posts and
    placements from then on (as `training.split.known_until` does).
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


def _compact(posts: pd.DataFrame) -> pd.DataFrame:
    """Posts as a bucket holds them: text columns as Arrow strings (values unchanged)."""
    return posts.astype({c: "string[pyarrow]" for c in _STRINGS if c in posts})


def _posts_until(posts: pd.DataFrame, until: pd.Timestamp | None) -> pd.DataFrame:
    """A bucket's posts before `until`, with the columns `coerce_table` gives (objects, None)."""
    if not len(posts.columns):  # a bucket without posts
        return _empty(POSTS)
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
    kept = _posts_until(posts, until)
    hashes = np.asarray(pd.util.hash_pandas_object(kept, index=False), dtype=np.uint64)
    return np.asarray(kept.index, dtype=np.int64), hashes


def _parts_of(path: Path) -> tuple[list[tuple[Path, int]], Problem | None]:
    """The files of a table and their row offsets: one CSV or Parquet file, or a folder."""
    if path.suffix == ".parquet" and path.is_dir():
        import pyarrow.parquet as pq

        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        parts: list[tuple[Path, int]] = []
        offset = 0
        for file in files:
            try:
                rows = pq.ParquetFile(file).metadata.num_rows
            except (OSError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                msg = f"cannot be read as Parquet: {file.name}: {first}"
                return [], Problem(path.name, None, msg, rule=Rule.UNREADABLE_FILE)
            parts.append((file, offset))
            offset += rows
        return parts, None
    return [(path, 0)], None


@dataclass(frozen=True)
class _Part:
    """What a worker found in one posts file: its rows split by bucket, and its problems.

    `read` is False when the file could not be read at all (`problems` says why).
    """

    read: bool
    posts: list[pd.DataFrame]
    keys: list[pd.DataFrame]
    problems: list[Problem]
    references: list[Problem]


def _shift(problems: list[Problem], offset: int) -> list[Problem]:
    return [replace(p, rows=tuple(r + offset for r in p.rows)) for p in problems]


def _read_part(
    path: Path,
    offset: int,
    table_file: str,
    buckets: int,
    known: dict[str, pd.DataFrame] | None,
    files: dict[str, str],
) -> _Part:
    """Read, type and check one posts file; split its rows by account and by post id."""
    raw, unreadable = read_table_file(path)
    if raw is None:
        problem = unreadable or Problem(
            table_file, None, "cannot be read", rule=Rule.UNREADABLE_FILE
        )
        return _Part(False, [], [], [replace(problem, file=table_file)], [])
    typed, found = coerce_table(POSTS, raw, table_file)
    # Duplicates across files are found by `_duplicates`, over every file at once.
    problems = [p for p in found if p.rule not in TABLE_RULES]
    references: list[Problem] = []
    if known is not None:
        tables = {**known, "posts": typed, "placements": _empty(PLACEMENTS)}
        references = check_references(tables, files)
    rows = offset + np.arange(len(typed), dtype=np.int64)
    typed.index = pd.Index(rows)
    present = [c for c in POSTS.names if c in raw.columns]
    strings = raw[present].reset_index(drop=True).astype("string")
    keys = pd.DataFrame(
        {
            "key": typed["post_id"].to_numpy(),
            "row_hash": pd.util.hash_pandas_object(strings, index=False).to_numpy(),
            "row": rows,
        }
    )
    by_account = account_buckets(typed["account_id"].fillna(""), buckets)
    by_key = account_buckets(keys["key"].fillna(""), buckets)
    compact = _compact(typed)
    return _Part(
        read=True,
        posts=[compact[by_account == b] for b in range(buckets)],
        keys=[keys[by_key == b] for b in range(buckets)],
        problems=_shift(problems, offset),
        references=_shift(references, offset),
    )


def _empty(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in spec.names})


def _part_posts(part: _Part, bucket: int) -> pd.DataFrame:
    return part.posts[bucket] if part.posts else pd.DataFrame()


def _concat(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    kept = [p for p in pieces if len(p.columns)]
    return pd.concat(kept) if kept else pd.DataFrame()


def _part_keys(part: _Part, bucket: int) -> pd.DataFrame:
    return part.keys[bucket] if part.keys else pd.DataFrame(columns=["key", "row_hash", "row"])


def _part_problems(part: _Part) -> tuple[bool, list[Problem], list[Problem]]:
    return part.read, part.problems, part.references


def _duplicates(
    pieces: list[pd.DataFrame],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows identical to an earlier row, and rows reusing an earlier row's id, as in
    `coerce_table`; every row with a given id is in this bucket."""
    keys = pd.concat(pieces, ignore_index=True).sort_values("row", kind="stable")
    if keys.empty:
        empty = np.array([], dtype=np.int64)
        return empty, empty
    dup_rows = keys["row_hash"].duplicated(keep="first")
    dup_keys = keys["key"].duplicated(keep="first") & keys["key"].notna() & ~dup_rows
    rows = keys["row"].to_numpy(dtype=np.int64)
    return rows[dup_rows.to_numpy()], rows[dup_keys.to_numpy()]


def _merge(problems: Sequence[Problem]) -> list[Problem]:
    """Problems of consecutive files as one table's: rows shown from the first, counts added.

    Problems are the same when they break the same rule in the same file and column.
    """
    merged: dict[tuple[str, str | None, Rule], Problem] = {}
    for p in problems:
        key = (p.file, p.column, p.rule)
        if key in merged:
            q = merged[key]
            merged[key] = replace(q, rows=(q.rows + p.rows)[:5], count=q.count + p.count)
        else:
            merged[key] = p
    return list(merged.values())


def _located(
    rows: npt.NDArray[np.int64], file: str, column: str | None, msg: str, rule: Rule
) -> list[Problem]:
    if not rows.size:
        return []
    shown = tuple(int(r) for r in np.sort(rows)[:5])
    return [Problem(file, column, msg, shown, int(rows.size), rule=rule)]


def posts_problems(
    per_file: Sequence[Sequence[Problem]],
    dup_rows: npt.NDArray[np.int64],
    dup_keys: npt.NDArray[np.int64],
    file: str,
) -> list[Problem]:
    """The posts table's problems as `coerce_table` reports them for the whole table.

    `per_file` holds each posts file's problems (files in order, rows numbered in the
    whole table, duplicates left out); `dup_rows` and `dup_keys` the rows duplicated
    across files (`_duplicates`). Problems of one rule in one column are merged, and
    all are ordered by `report_order`: by rule and column, never by message.
    """
    found = _merge([p for problems in per_file for p in problems])
    found += _located(dup_rows, file, None, DUPLICATE_ROWS, Rule.DUPLICATE_ROW)
    found += _located(dup_keys, file, POSTS.key, DUPLICATE_IDS, Rule.DUPLICATE_ID)
    return sorted(found, key=lambda p: report_order(POSTS, p))


def load_partitioned(client: Any, data_dir: Path, buckets: int | None = None) -> PartitionedData:
    """Validate a data directory with the workers' help and keep its posts on them.

    Takes a client, the data directory (posts as a CSV file, a Parquet file or a
    folder of Parquet files: one task per file) and the number of account buckets
    (default: the number of posts files, at least four per worker). Returns the
    partitioned data; raises DataContractError listing every problem, as
    `load_dataset` does for the same data (the same problems, rows, order).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataContractError([not_a_directory(data_dir)])
    by_table: dict[str, list[Problem]] = {name: [] for name in TABLES}
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    posts_path: Path | None = None
    for name, spec in TABLES.items():
        path, missing = _locate(data_dir, name)
        if path is None:
            by_table[name] += [missing] if missing else []
            continue
        files[name] = path.name
        if name == "posts":
            posts_path = path
            continue
        raw, unreadable = read_table_file(path)
        if raw is None:
            by_table[name] += [unreadable] if unreadable else []
            continue
        tables[name], found = coerce_table(spec, raw, path.name)
        by_table[name] += found

    parts: list[tuple[Path, int]] = []
    if posts_path is not None:
        parts, unreadable = _parts_of(posts_path)
        by_table["posts"] += [unreadable] if unreadable else []
    n_workers = len(worker_addresses(client))
    n_buckets = buckets or max(len(parts), 4 * n_workers)
    known = None
    if "accounts" in tables and "campaigns" in tables:
        known = {
            "accounts": tables["accounts"][["account_id"]],
            "campaigns": tables["campaigns"][["campaign_id"]],
        }
    table_file = files.get("posts", "posts")
    read = [
        client.submit(_read_part, path, offset, table_file, n_buckets, known, files, pure=False)
        for path, offset in parts
    ]
    found_per_part = client.gather([client.submit(_part_problems, r) for r in read])
    unread = not all(ok for ok, _, _ in found_per_part)
    references: list[Problem] = []
    posts: list[Future] = []
    if parts and not unread:
        duplicates = client.gather(
            [
                client.submit(
                    _duplicates, [client.submit(_part_keys, r, b, pure=False) for r in read]
                )
                for b in range(n_buckets)
            ]
        )
        dup_rows = np.concatenate([d[0] for d in duplicates])
        dup_keys = np.concatenate([d[1] for d in duplicates])
        per_file = [problems for _, problems, _ in found_per_part]
        by_table["posts"] += posts_problems(per_file, dup_rows, dup_keys, table_file)
        references = _merge([p for _, _, refs in found_per_part for p in refs])
        posts = [
            client.submit(
                _concat, [client.submit(_part_posts, r, b, pure=False) for r in read], pure=False
            )
            for b in range(n_buckets)
        ]
        require_dask().wait(posts)
    else:
        by_table["posts"] += _merge([p for _, problems, _ in found_per_part for p in problems])
    del read

    problems = [p for name in TABLES for p in by_table[name]]
    loaded = len(tables) == len(TABLES) - 1 and bool(posts)
    if loaded:
        problems += references
        small = {**tables, "posts": _empty(POSTS)}
        problems += check_references(small, files)
    if problems:
        raise DataContractError(problems)
    data = PartitionedData(
        client, tables["accounts"], tables["campaigns"], tables["placements"], posts
    )
    return replace(data, warnings=tuple(_history_warnings(data, files["placements"])))


def _posts_before(posts: pd.DataFrame, first: pd.Series) -> pd.Series:
    return posts_before(_posts_until(posts, None), first)


def _history_warnings(data: PartitionedData, file: str) -> list[Problem]:
    """`history_warnings`, with each bucket counting its own accounts' posts."""
    if data.placements.empty:
        return []
    first = first_placements(data.placements)
    shared = data.client.scatter(first, broadcast=True, hash=False)
    counts = data.client.gather([data.client.submit(_posts_before, p, shared) for p in data.posts])
    before = pd.concat([c for c in counts if len(c)]) if any(len(c) for c in counts) else first[:0]
    return thin_history_warnings(before, first, data.placements, file)


# --- fit and transform --------------------------------------------------------------------


def _posts_terms(posts: pd.DataFrame, until: pd.Timestamp | None, analyze: Analyzer) -> TermCounts:
    kept = _posts_until(posts, until)
    texts = kept["text"] if "text" in kept else pd.Series(dtype=object)
    return term_counts(texts, analyze)


def _followers(
    posts: pd.DataFrame, placements: pd.DataFrame, until: pd.Timestamp | None
) -> pd.Series:
    if placements.empty:
        return pd.Series(np.nan, index=placements.index)
    return followers_at(placements, prepare_posts(_posts_until(posts, until)))


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

    data = Dataset(accounts, _posts_until(posts, until), campaigns, placements)
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
