"""Read a data directory into validated, typed tables; write outputs atomically.

A data directory holds `accounts`, `posts`, `campaigns` and `placements`, each as
`NAME.csv` or `NAME.parquet` (a Parquet file or a folder of Parquet files). Every
command that reads data goes through `load_dataset`, so every command validates
the same way. Outputs are written to a temporary file beside the target and
renamed into place, so that a failed or killed command never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import TABLES
from features.errors import DataContractError, Problem, Rule
from features.moment import future_warnings
from features.validate import check_references, coerce_table, history_warnings

__all__ = [
    "Dataset",
    "account_buckets",
    "atomic_path",
    "load_dataset",
    "not_a_directory",
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


def _locate(data_dir: Path, name: str) -> tuple[Path | None, Problem | None]:
    try:
        candidates = [
            p for p in (data_dir / f"{name}.csv", data_dir / f"{name}.parquet") if p.exists()
        ]
    except OSError as e:  # a folder this user may not search: one sentence, not a traceback
        msg = f"cannot be looked up in {data_dir}: {e.strerror or type(e).__name__}"
        return None, Problem(f"{name}.csv", None, msg, rule=Rule.UNSEARCHABLE_DIRECTORY)
    if not candidates:
        msg = f"missing from {data_dir}; expected {name}.csv or {name}.parquet"
        return None, Problem(f"{name}.csv", None, msg, rule=Rule.MISSING_TABLE)
    if len(candidates) > 1:
        msg = f"both {name}.csv and {name}.parquet exist in {data_dir}; keep only one"
        return None, Problem(f"{name}.csv", None, msg, rule=Rule.TWO_FORMATS)
    return candidates[0], None


def read_table_file(path: Path) -> tuple[pd.DataFrame | None, Problem | None]:
    """Read one file as raw text columns (CSV) or typed columns (Parquet).

    Returns the frame, or a problem saying why the file cannot be read at all
    (empty, not UTF-8, not CSV or Parquet). Never raises for a bad file.
    """
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path), None
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        msg = "is empty; expected a header line and rows"
        return None, Problem(path.name, None, msg, rule=Rule.EMPTY_FILE)
    except UnicodeDecodeError as e:
        msg = f"is not UTF-8 text (byte {e.start}); export it again as UTF-8"
        return None, Problem(path.name, None, msg, rule=Rule.NOT_UTF8)
    except PermissionError as e:
        msg = f"cannot be read: {e.strerror or 'permission denied'}; let this user read it"
        return None, Problem(path.name, None, msg, rule=Rule.UNREADABLE_FILE)
    except (pd.errors.ParserError, ValueError, OSError) as e:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        msg = f"cannot be read as {kind}: {first}"
        return None, Problem(path.name, None, msg, rule=Rule.UNREADABLE_FILE)
    return frame, None


def _check(
    data_dir: Path, now: pd.Timestamp | None = None
) -> tuple[dict[str, pd.DataFrame], list[Problem], list[Problem]]:
    if not data_dir.is_dir():
        return {}, [not_a_directory(data_dir)], []
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for name, spec in TABLES.items():
        path, missing = _locate(data_dir, name)
        if path is None:
            problems += [missing] if missing else []
            continue
        raw, unreadable = read_table_file(path)
        files[name] = path.name
        if raw is None:
            problems += [unreadable] if unreadable else []
            continue
        typed, found = coerce_table(spec, raw, path.name)
        problems += found
        tables[name] = typed
    found, warnings = _across_tables(tables, files, now, clean=not problems)
    return tables, problems + found, warnings


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
    data_dir: Path, now: pd.Timestamp | None = None
) -> tuple[list[Problem], list[Problem]]:
    """Check a data directory against the contract; return (problems, warnings).

    Never raises for bad data: every broken rule becomes a problem naming its
    file, column and rows. Warnings (thin histories; posts or outcomes dated after
    `now`, default the current time) do not make the data invalid.
    """
    _, problems, warnings = _check(Path(data_dir), now)
    return problems, warnings


def load_dataset(data_dir: Path) -> Dataset:
    """Validate and load a data directory; raise DataContractError listing every problem."""
    tables, problems, warnings = _check(Path(data_dir))
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
