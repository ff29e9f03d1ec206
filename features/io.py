"""Read a data directory into validated, typed tables; write outputs atomically.

A data directory holds `accounts`, `posts`, `campaigns` and `placements`, each as
`NAME.csv`, `NAME.parquet` (a Parquet file or a folder of Parquet files) or `NAME.xlsx`.
Every command that reads data goes through `load_dataset` (or, on Dask,
`features.distributed.load_partitioned`), and every file through `read_table`, so every
command validates the same way and reads exports as the same `ReadOptions` say.
Outputs are written to a temporary file beside the target and renamed into place, so
that a failed or killed command never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import TABLES, TableSpec
from features.errors import DataContractError, Problem, Rule
from features.files import locate_table, read_export
from features.headers import ReadOptions, match_headers
from features.moment import future_warnings
from features.validate import check_references, coerce_table, history_warnings, report_order

__all__ = [
    "Dataset",
    "TableRead",
    "account_buckets",
    "atomic_path",
    "load_dataset",
    "not_a_directory",
    "read_table",
    "read_table_file",
    "validate_directory",
    "validate_tables",
    "write_table",
]


@dataclass(frozen=True)
class Dataset:
    """The four contract tables, typed and validated, plus the warnings found."""

    accounts: pd.DataFrame
    posts: pd.DataFrame
    campaigns: pd.DataFrame
    placements: pd.DataFrame
    warnings: tuple[Problem, ...] = field(default=())

    def digest(self) -> str:
        """A sha256 of the tables' contents: the same data gives the same digest."""
        h = hashlib.sha256()
        for name in TABLES:
            frame: pd.DataFrame = getattr(self, name)
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return h.hexdigest()

    def known_until(self, until: pd.Timestamp | None) -> Dataset:
        """The data as it stood at `until`: later posts and placements dropped.

        Outcomes of placements whose attribution window was still open at `until`
        are kept: a time split decides which outcomes may be used for what.
        """
        if until is None:
            return self
        return Dataset(
            accounts=self.accounts,
            posts=self.posts[self.posts["posted_at"] < until],
            campaigns=self.campaigns,
            placements=self.placements[self.placements["posted_at"] < until],
            warnings=self.warnings,
        )


def account_buckets(account_ids: pd.Series, buckets: int) -> npt.NDArray[np.int64]:
    """A stable bucket in 0..buckets-1 per account id: the same id, the same bucket, anywhere.

    pandas' SipHash of the id's UTF-8 text with its fixed key, modulo `buckets`: it
    does not depend on the process, the machine or the row order, so that the posts
    and the placements of one account always land in the same partition.
    """
    values = account_ids.astype(object).to_numpy()
    hashes = pd.util.hash_array(values, categorize=False)
    return (hashes % np.uint64(buckets)).astype(np.int64)


def not_a_directory(data_dir: Path) -> Problem:
    """The problem of a data directory that is not a folder (a file, or nothing there)."""
    msg = "is not a directory; give the folder holding the tables"
    return Problem(str(data_dir), None, msg, rule=Rule.NOT_A_DIRECTORY)


def read_table_file(path: Path) -> tuple[pd.DataFrame | None, Problem | None]:
    """Read one file as raw text columns (CSV), typed columns (Parquet) or cells (.xlsx).

    Returns the frame, or a problem saying why the file cannot be read at all
    (empty, not UTF-8, not CSV, Parquet or a workbook). Never raises for a bad file.
    A workbook's sheet is the one named like the file (`features.workbook`).
    """
    frame, problem, _ = read_export(Path(path), Path(path).stem.lower())
    return frame, problem


@dataclass(frozen=True)
class TableRead:
    """One table's file as read (`raw`, headers renamed to the contract's) and typed.

    `raw` is None when the file cannot be read at all; `problems` are the table's, in
    `coerce_table`'s order; `notes` are warnings about how the export was read.
    """

    raw: pd.DataFrame | None
    typed: pd.DataFrame | None
    problems: list[Problem]
    notes: list[Problem]


def read_table(
    path: Path,
    spec: TableSpec,
    options: ReadOptions,
    file: str | None = None,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> TableRead:
    """Read, match and check one table's file: what every engine does with each file.

    Takes the file, its table, the read options, the name problems give the file
    (default: the file's own name) and, optionally, a step between matching and
    checking (a planned placement's missing ids are filled in there, once its headers
    are the contract's). Headers are matched to the contract (`features.headers`), then
    the rows checked by `coerce_table`.
    """
    name = file or path.name
    raw, unreadable, notes = read_export(path, spec.name)
    if raw is None:
        problem = unreadable or Problem(name, None, "cannot be read", rule=Rule.UNREADABLE_FILE)
        return TableRead(None, None, [replace(problem, file=name)], notes)
    raw, header_problems = match_headers(spec, raw, name, options)
    if prepare is not None:
        raw = prepare(raw)
    typed, found = coerce_table(spec, raw, name, dayfirst=options.dayfirst)
    reported = {p.column for p in header_problems}
    found = [p for p in found if p.rule is not Rule.MISSING_COLUMN or p.column not in reported]
    problems = sorted(header_problems + found, key=lambda p: report_order(spec, p))
    return TableRead(raw, typed, problems, notes)


def _check(
    data_dir: Path, options: ReadOptions, now: pd.Timestamp | None = None
) -> tuple[dict[str, pd.DataFrame], list[Problem], list[Problem]]:
    if not data_dir.is_dir():
        return {}, [not_a_directory(data_dir)], []
    problems: list[Problem] = []
    notes: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for name, spec in TABLES.items():
        located = locate_table(data_dir, name)
        notes += [located.note] if located.note else []
        if located.path is None:
            problems += [located.problem] if located.problem else []
            continue
        files[name] = located.path.name
        read = read_table(located.path, spec, options)
        problems += read.problems
        notes += read.notes
        if read.typed is not None:
            tables[name] = read.typed
    found, warnings = _across_tables(tables, files, now, clean=not problems)
    return tables, problems + found, notes + warnings


def _across_tables(
    tables: dict[str, pd.DataFrame],
    files: dict[str, str],
    now: pd.Timestamp | None,
    clean: bool,
) -> tuple[list[Problem], list[Problem]]:
    """References between the tables once all four were read; then, if every table was
    `clean` and the references hold, the warnings."""
    if len(tables) != len(TABLES):
        return [], []
    problems = check_references(tables, files)
    if problems or not clean:
        return problems, []
    warnings = history_warnings(tables["posts"], tables["placements"], files["placements"])
    return [], warnings + future_warnings(tables["posts"], tables["placements"], files, now)


def validate_tables(
    *,
    accounts: pd.DataFrame,
    posts: pd.DataFrame,
    campaigns: pd.DataFrame,
    placements: pd.DataFrame,
    now: pd.Timestamp | None = None,
) -> Dataset:
    """Validate four in-memory tables against the contract; return them typed.

    The notebook's `load_dataset`: the same rules, problems and warnings as
    `validate_directory`, each problem naming its table (`accounts`, ...) where a
    directory would name its file. Raises DataContractError listing every problem.
    """
    raws = {"accounts": accounts, "posts": posts, "campaigns": campaigns}
    raws["placements"] = placements
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    for name, spec in TABLES.items():
        tables[name], found = coerce_table(spec, raws[name], name)
        problems += found
    names = {name: name for name in TABLES}
    across, warnings = _across_tables(tables, names, now, clean=not problems)
    problems += across
    if problems:
        raise DataContractError(problems)
    return Dataset(**tables, warnings=tuple(warnings))


def validate_directory(
    data_dir: Path, now: pd.Timestamp | None = None, options: ReadOptions | None = None
) -> tuple[list[Problem], list[Problem]]:
    """Check a data directory against the contract; return (problems, warnings).

    Never raises for bad data: every broken rule becomes a problem naming its
    file, column and rows. Warnings (how an export was read: another delimiter, a
    file name in other case; thin histories; posts or outcomes dated after `now`,
    default the current time) do not make the data invalid. `options` says how the
    exports are read (`features.headers.ReadOptions`: a column mapping, day-first dates).
    """
    _, problems, warnings = _check(Path(data_dir), options or ReadOptions(), now)
    return problems, warnings


def load_dataset(data_dir: Path, options: ReadOptions | None = None) -> Dataset:
    """Validate and load a data directory, its exports read as `options` says (default:
    the contract as written); raise DataContractError listing every problem."""
    tables, problems, warnings = _check(Path(data_dir), options or ReadOptions())
    if problems:
        raise DataContractError(problems)
    return Dataset(**tables, warnings=tuple(warnings))


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it onto `target` only on success.

    Works for files and folders. On any exception (or a kill) `target` is left as
    it was: either absent or the previous complete version.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)) / target.name
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = tmp.parent / (target.name + ".old")
            target.rename(old)
            tmp.rename(target)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_table(frame: pd.DataFrame, target: Path) -> None:
    """Write a frame as CSV or Parquet (by the suffix of `target`), atomically."""
    target = Path(target)
    with atomic_path(target) as tmp:
        if target.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif target.suffix == ".csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            raise ValueError(f"Cannot write {target.name}: expected a .csv or .parquet file name.")
