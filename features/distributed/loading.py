"""Read and validate a data directory with the workers' help: `load_partitioned`.

Each posts file is read and checked by `coerce_table` on a worker and split into
buckets of accounts; the driver merges the files' problems (rows numbered in the
whole table), finds duplicates across files (rows bucketed by `post_id`) and puts
the problems in the pandas engine's order by rule and column (`posts_problems`).
The small tables are read and checked on the driver, as `features.io` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import PLACEMENTS, POSTS, TABLES
from features.distributed.cluster import require_dask, worker_addresses
from features.distributed.partitioned import (
    Future,
    PartitionedData,
    compact,
    empty_table,
    posts_until,
)
from features.errors import DataContractError, Problem, Rule
from features.files import locate_table
from features.headers import ReadOptions
from features.io import account_buckets, not_a_directory, read_table
from features.validate import (
    DUPLICATE_IDS,
    DUPLICATE_ROWS,
    TABLE_RULES,
    check_references,
    first_placements,
    posts_before,
    report_order,
    thin_history_warnings,
)

__all__ = ["load_partitioned", "posts_problems"]


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
    notes: list[Problem]


def _shift(problems: list[Problem], offset: int) -> list[Problem]:
    return [replace(p, rows=tuple(r + offset for r in p.rows)) for p in problems]


def _read_part(
    path: Path,
    offset: int,
    table_file: str,
    buckets: int,
    known: dict[str, pd.DataFrame] | None,
    files: dict[str, str],
    options: ReadOptions,
) -> _Part:
    """Read, type and check one posts file; split its rows by account and by post id."""
    read = read_table(path, POSTS, options, table_file)
    if read.raw is None or read.typed is None:
        return _Part(False, [], [], read.problems, [], read.notes)
    raw, typed = read.raw, read.typed
    # Duplicates across files are found by `_duplicates`, over every file at once.
    problems = [p for p in read.problems if p.rule not in TABLE_RULES]
    references: list[Problem] = []
    if known is not None:
        tables = {**known, "posts": typed, "placements": empty_table(PLACEMENTS)}
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
    held = compact(typed)
    return _Part(
        read=True,
        posts=[held[by_account == b] for b in range(buckets)],
        keys=[keys[by_key == b] for b in range(buckets)],
        problems=_shift(problems, offset),
        references=_shift(references, offset),
        notes=read.notes,
    )


def _part_posts(part: _Part, bucket: int) -> pd.DataFrame:
    return part.posts[bucket] if part.posts else pd.DataFrame()


def _concat(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    kept = [p for p in pieces if len(p.columns)]
    return pd.concat(kept) if kept else pd.DataFrame()


def _part_keys(part: _Part, bucket: int) -> pd.DataFrame:
    return part.keys[bucket] if part.keys else pd.DataFrame(columns=["key", "row_hash", "row"])


def _part_problems(part: _Part) -> tuple[bool, list[Problem], list[Problem], list[Problem]]:
    return part.read, part.problems, part.references, part.notes


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
            rows, values = (q.rows + p.rows)[:5], (q.values + p.values)[:3]
            merged[key] = replace(q, rows=rows, count=q.count + p.count)
            merged[key] = merged[key].with_cells(values, q.hint or p.hint)
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


def load_partitioned(
    client: Any, data_dir: Path, buckets: int | None = None, options: ReadOptions | None = None
) -> PartitionedData:
    """Validate a data directory with the workers' help and keep its posts on them.

    Takes a client, the data directory (posts as a CSV file, a Parquet file or a
    folder of Parquet files: one task per file), the number of account buckets
    (default: the number of posts files, at least four per worker) and how the exports
    are read (`features.headers.ReadOptions`, default the contract as written). Returns the
    partitioned data; raises DataContractError listing every problem, as
    `load_dataset` does for the same data (the same problems, rows, order).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataContractError([not_a_directory(data_dir)])
    options = options or ReadOptions()
    by_table: dict[str, list[Problem]] = {name: [] for name in TABLES}
    notes: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    posts_path: Path | None = None
    for name, spec in TABLES.items():
        located = locate_table(data_dir, name)
        notes += [located.note] if located.note else []
        if located.path is None:
            by_table[name] += [located.problem] if located.problem else []
            continue
        files[name] = located.path.name
        if name == "posts":
            posts_path = located.path
            continue
        table = read_table(located.path, spec, options)
        by_table[name] += table.problems
        notes += table.notes
        if table.typed is not None:
            tables[name] = table.typed

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
        client.submit(
            _read_part, path, offset, table_file, n_buckets, known, files, options, pure=False
        )
        for path, offset in parts
    ]
    found_per_part = client.gather([client.submit(_part_problems, r) for r in read])
    unread = not all(ok for ok, _, _, _ in found_per_part)
    notes += [n for _, _, _, part_notes in found_per_part for n in part_notes]
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
        per_file = [problems for _, problems, _, _ in found_per_part]
        by_table["posts"] += posts_problems(per_file, dup_rows, dup_keys, table_file)
        references = _merge([p for _, _, refs, _ in found_per_part for p in refs])
        posts = [
            client.submit(
                _concat, [client.submit(_part_posts, r, b, pure=False) for r in read], pure=False
            )
            for b in range(n_buckets)
        ]
        require_dask().wait(posts)
    else:
        by_table["posts"] += _merge([p for _, problems, _, _ in found_per_part for p in problems])
    del read

    problems = [p for name in TABLES for p in by_table[name]]
    loaded = len(tables) == len(TABLES) - 1 and bool(posts)
    if loaded:
        problems += references
        small = {**tables, "posts": empty_table(POSTS)}
        problems += check_references(small, files)
    if problems:
        raise DataContractError(problems)
    data = PartitionedData(
        client, tables["accounts"], tables["campaigns"], tables["placements"], posts
    )
    warnings = notes + _history_warnings(data, files["placements"])
    return replace(data, warnings=tuple(warnings))


def _posts_before(posts: pd.DataFrame, first: pd.Series) -> pd.Series:
    return posts_before(posts_until(posts, None), first)


def _history_warnings(data: PartitionedData, file: str) -> list[Problem]:
    """`history_warnings`, with each bucket counting its own accounts' posts."""
    if data.placements.empty:
        return []
    first = first_placements(data.placements)
    shared = data.client.scatter(first, broadcast=True, hash=False)
    counts = data.client.gather([data.client.submit(_posts_before, p, shared) for p in data.posts])
    before = pd.concat([c for c in counts if len(c)]) if any(len(c) for c in counts) else first[:0]
    return thin_history_warnings(before, first, data.placements, file)
