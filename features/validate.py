"""Check raw tables against the data contract and turn them into typed frames.

Every rule is checked on every row and all problems are collected before anything
fails, so that a user fixes an export once, not once per problem. The same
functions check files on disk (`features.io`) and histories sent to the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.causes import likely_cause
from features.cells import empty_column, missing_cells, parse_column
from features.contract import TABLES, Kind, TableSpec
from features.errors import Problem, Rule

__all__ = [
    "COLUMN_RULES",
    "DUPLICATE_IDS",
    "DUPLICATE_ROWS",
    "MIN_POSTS_BEFORE_PLACEMENT",
    "TABLE_RULES",
    "check_references",
    "coerce_table",
    "coerce_tables",
    "first_placements",
    "history_warnings",
    "posts_before",
    "report_order",
    "thin_history_warnings",
]

MIN_POSTS_BEFORE_PLACEMENT = 5
"""Below this many posts before its first placement an account's features are thin."""

DUPLICATE_ROWS = "duplicate rows (identical to an earlier row)"
DUPLICATE_IDS = "ids already used on an earlier row"
ABSENT = "missing; the contract requires it"
DELIMITED_HINT = "; the header looks delimited by something other than commas"

COLUMN_RULES = (Rule.EMPTY_CELLS, Rule.WRONG_TYPE, Rule.NEGATIVE, Rule.FRACTIONAL)
"""The rules `coerce_table` checks in each column, in the order it reports them."""
TABLE_RULES = (Rule.DUPLICATE_ROW, Rule.DUPLICATE_ID)
"""The rules `coerce_table` checks across a table's rows, reported after every column's."""

_GROUP = "\x00group"
_MAX_ROWS = 5  # row positions a Problem keeps (`_positions`)
_MAX_VALUES = 3  # offending cells a Problem shows


def _positions(mask: pd.Series) -> tuple[tuple[int, ...], int]:
    idx = np.flatnonzero(mask.to_numpy(dtype=bool))
    return tuple(int(i) for i in idx[:_MAX_ROWS]), int(idx.size)


def _problem(
    file: str, column: str | None, message: str, mask: pd.Series, rule: Rule
) -> Problem | None:
    rows, count = _positions(mask)
    return Problem(file, column, message, rows, count, rule=rule) if count else None


def coerce_table(
    spec: TableSpec, raw: pd.DataFrame, file: str, *, dayfirst: bool = False
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check one raw table against its spec and return it typed, with its problems.

    `raw` is the table as read (strings from CSV, typed columns from Parquet or
    JSON). The returned frame has exactly the contract's columns in contract order:
    strings as objects, timestamps as UTC, counts and amounts as float64 (NaN where
    empty; optional columns that are absent come back all-missing), booleans as
    pandas' nullable boolean. The frame is only meaningful when no problem is
    returned; callers must not use it otherwise. Each problem with offending cells shows
    the first three as read, and a wrong type its likely cause (`features.causes`);
    `dayfirst` reads dates such as 25/03/2026 as day/month/year.
    """
    problems: list[Problem] = []
    absent = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in absent:
        hint = ""
        if len(raw.columns) == 1 and any(d in str(raw.columns[0]) for d in ";\t|"):
            hint = DELIMITED_HINT
        problems.append(Problem(file, name, f"{ABSENT}{hint}", rule=Rule.MISSING_COLUMN))
    table, broken = _check_rows(spec, raw, None, dayfirst)
    for check in broken:
        hit = np.flatnonzero(check.mask.to_numpy(dtype=bool))
        if hit.size:
            rows = tuple(int(i) for i in hit[:_MAX_ROWS])
            values, hint = check.shown(hit)
            problems.append(
                Problem(
                    file, check.column, check.message, rows, int(hit.size), rule=check.rule
                ).with_cells(values, hint)
            )
    return table, problems


def report_order(spec: TableSpec, problem: Problem) -> tuple[int, int, int]:
    """Where `coerce_table` reports `problem` among one table's problems, as a sort key.

    Missing columns, and columns two headers could be (`features.headers`), come first
    (in the contract's column order), then each column's
    rules (column by column, each in `COLUMN_RULES` order), then `TABLE_RULES`. The
    key is made of the problem's rule and column only, never of its message, so that
    an engine that finds a table's problems piece by piece (`features.distributed`)
    can put them back in this order. Raises ValueError for a rule `coerce_table` does
    not check.
    """
    column = spec.names.index(problem.column) if problem.column in spec.names else -1
    if problem.rule in (Rule.MISSING_COLUMN, Rule.AMBIGUOUS_COLUMN):
        return (0, column, 0)
    if problem.rule in COLUMN_RULES:
        return (1, column, COLUMN_RULES.index(problem.rule))
    if problem.rule in TABLE_RULES:
        return (2, TABLE_RULES.index(problem.rule), 0)
    raise ValueError(f"coerce_table does not check the rule {problem.rule!r}")


@dataclass(frozen=True)
class _Broken:
    """Which rows break one rule (`mask`), before they are counted per file."""

    rule: Rule
    column: str | None
    message: str
    mask: pd.Series
    cells: pd.Series | None = None  # the column as read, to show the offending values
    kind: Kind | None = None  # the column's kind when a cause may be named (wrong types)
    dayfirst: bool = False

    def shown(self, hit: npt.NDArray[np.intp]) -> tuple[tuple[str, ...], str]:
        """The first offending cells of the rows `hit` (positions, in order), and a cause."""
        if self.cells is None:
            return (), ""
        offending = self.cells.iloc[hit]
        values = tuple(_as_text(v) for v in offending.iloc[:_MAX_VALUES])
        hint = likely_cause(self.kind, offending, self.dayfirst) if self.kind else ""
        return values, hint


def _as_text(value: object) -> str:
    """A cell as a user typed it: a whole float (Parquet's -5.0) without its `.0`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_rows(
    spec: TableSpec,
    raw: pd.DataFrame,
    group: npt.NDArray[np.intp] | None,
    dayfirst: bool = False,
) -> tuple[pd.DataFrame, list[_Broken]]:
    """The typed table and every row rule, in the order problems are reported.

    That order is `report_order`'s: each column's rules in `COLUMN_RULES` order, column
    by column, then `TABLE_RULES`. Duplicates are looked for among rows of the same
    `group` (all rows when None).
    """
    broken: list[_Broken] = []
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = empty_column(col, len(raw))
            continue
        series = raw[col.name].reset_index(drop=True)
        missing = missing_cells(series)
        values, bad, why = parse_column(col, series, dayfirst)
        if not col.nullable:
            broken.append(_Broken(Rule.EMPTY_CELLS, col.name, "empty cells", missing))
        broken.append(_Broken(Rule.WRONG_TYPE, col.name, why, bad, series, col.kind, dayfirst))
        if col.kind in (Kind.COUNT, Kind.AMOUNT):
            negative = "negative values (expected >= 0)"
            broken.append(_Broken(Rule.NEGATIVE, col.name, negative, values < 0, series))
        if col.kind is Kind.COUNT:
            fractional = (values % 1 != 0) & values.notna()
            whole = "values that are not whole numbers"
            broken.append(_Broken(Rule.FRACTIONAL, col.name, whole, fractional, series))
        out[col.name] = values

    table = pd.DataFrame(out)
    present = [c for c in spec.names if c in raw.columns]
    if present and len(raw):
        # Text cells compare as text (an int 7 and a "7" from one export are one value);
        # typed columns compare as they are, which spares formatting every timestamp.
        strings = raw[present].reset_index(drop=True)
        text = [c for c in present if strings[c].dtype == object]
        strings = strings.astype(dict.fromkeys(text, "string"))
        if group is not None:  # a name no contract column can have
            strings[_GROUP] = group
        dup_rows = strings.duplicated(keep="first")
        broken.append(_Broken(Rule.DUPLICATE_ROW, None, DUPLICATE_ROWS, dup_rows))
        if spec.key in raw.columns:
            key = table[spec.key]
            keyed = key if group is None else pd.DataFrame({_GROUP: group, spec.key: key})
            dup_key = keyed.duplicated(keep="first") & key.notna() & ~dup_rows
            broken.append(_Broken(Rule.DUPLICATE_ID, spec.key, DUPLICATE_IDS, dup_key))
    return table, broken


def coerce_tables(
    spec: TableSpec,
    raw: pd.DataFrame,
    group: npt.NDArray[np.intp],
    files: Sequence[str],
    present: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> tuple[pd.DataFrame, list[list[Problem]]]:
    """Check many small tables stacked in one frame, each as if `coerce_table` checked it alone.

    Checking a table costs about a millisecond of pandas per column whatever its size,
    so thousands of small tables (histories sent to the API) are checked in one pass.
    Row `r` of `raw` belongs to table `group[r]` (0 to `len(files) - 1`, each table's
    rows in their own order); `files[g]` names table `g` in its problems.
    `present[name][g]` says whether table `g` has column `name` (its rows hold missing
    values there); a column of `raw` not in `present` is in every table.

    Returns the typed stacked frame, row for row, and each table's problems, worded
    and numbered (rows within the table) as `coerce_table` would report them. That
    holds when a column's dtype in `raw` parses each value as the table's own column
    would: pandas picks one dtype per column, and some values read differently in
    another (JSON-like ints, floats, strings, booleans or None, one kind per column,
    do not; the caller keeps the rest out).
    """
    n_tables = len(files)
    everywhere = np.ones(n_tables, dtype=bool)
    has = {c: everywhere if present is None else present.get(c, everywhere) for c in raw.columns}
    problems: list[list[Problem]] = [[] for _ in range(n_tables)]
    width = np.zeros(n_tables, dtype=np.intp)  # how many columns each table has
    for c in raw.columns:
        width += has[c]
    for col in spec.columns:
        if not col.required:
            continue
        lacking = ~has[col.name] if col.name in raw.columns else everywhere
        for g in map(int, np.flatnonzero(lacking)):
            hint = ""
            if width[g] == 1:
                only = next(c for c in raw.columns if has[c][g])
                hint = DELIMITED_HINT if any(d in str(only) for d in ";\t|") else ""
            absent = Problem(files[g], col.name, f"{ABSENT}{hint}", rule=Rule.MISSING_COLUMN)
            problems[g].append(absent)

    group = np.asarray(group, dtype=np.intp)
    position = np.asarray(pd.Series(group).groupby(group).cumcount(), dtype=np.intp)
    contract = [c for c in spec.names if c in raw.columns]
    any_column = ~everywhere
    for c in contract:
        any_column = any_column | has[c]
    table, broken = _check_rows(spec, raw, group)
    for col in spec.columns:
        if col.name in raw.columns and not has[col.name].all():
            # A table's absent column comes back as `coerce_table` makes it (NaN, not None).
            kept = pd.Series(has[col.name][group])
            table[col.name] = table[col.name].where(kept, empty_column(col, len(table)))
    for check in broken:
        # A table without the column has no such rule; duplicates need a column to compare.
        owns = has[check.column] if check.column is not None else any_column
        mask = check.mask.to_numpy(dtype=bool) & owns[group]
        for g, rows, count, hit in _per_table(mask, group, position, n_tables):
            found = Problem(files[g], check.column, check.message, rows, count, rule=check.rule)
            problems[g].append(found.with_cells(*check.shown(hit)))
    return table, problems


def _per_table(
    mask: npt.NDArray[np.bool_],
    group: npt.NDArray[np.intp],
    position: npt.NDArray[np.intp],
    n_tables: int,
) -> list[tuple[int, tuple[int, ...], int, npt.NDArray[np.intp]]]:
    """Per table with rows in `mask`: the table, its first offending rows, how many, and
    every offending row's position in the stacked frame (in order)."""
    hit = np.flatnonzero(mask)
    if not hit.size:
        return []
    tables = group[hit]
    order = np.argsort(tables, kind="stable")  # within a table, rows stay in order
    tables, rows, hit = tables[order], position[hit][order], hit[order]
    counts = np.bincount(tables, minlength=n_tables)
    found = np.flatnonzero(counts)
    starts = np.searchsorted(tables, found)
    return [
        (
            int(g),
            tuple(int(r) for r in rows[s : s + min(int(counts[g]), _MAX_ROWS)]),
            int(counts[g]),
            hit[s : s + int(counts[g])],
        )
        for g, s in zip(found, starts, strict=True)
    ]


def check_references(tables: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Problem]:
    """Every `account_id` and `campaign_id` used must exist in its own table."""
    problems: list[Problem] = []
    known = {
        "account_id": ("accounts", set(tables["accounts"]["account_id"].dropna())),
        "campaign_id": ("campaigns", set(tables["campaigns"]["campaign_id"].dropna())),
    }
    for name in ("posts", "placements"):
        frame = tables[name]
        for column, (owner, ids) in known.items():
            if column not in TABLES[name].names:
                continue
            values = frame[column]
            dangling = values.notna() & ~values.isin(ids)
            msg = f"ids that are not in {files[owner]}"
            p = _problem(files[name], column, msg, dangling, Rule.UNKNOWN_REFERENCE)
            problems += [p] if p else []
    return problems


def first_placements(placements: pd.DataFrame) -> pd.Series:
    """Each account's first placement time, indexed by `account_id` (sorted)."""
    return placements.groupby("account_id")["posted_at"].min().rename("first_placement")


def posts_before(posts: pd.DataFrame, first: pd.Series) -> pd.Series:
    """Per account with a placement: how many of its posts came before its first placement.

    Accounts are independent, so a partition of accounts gives its own accounts' counts.
    """
    merged = posts[["account_id", "posted_at"]].merge(
        first, left_on="account_id", right_index=True, how="inner"
    )
    counts: pd.Series = (
        (merged["posted_at"] < merged["first_placement"]).groupby(merged["account_id"]).sum()
    )
    return counts


def history_warnings(posts: pd.DataFrame, placements: pd.DataFrame, file: str) -> list[Problem]:
    """Warn about placements whose account had too few posts before its first placement."""
    if placements.empty:
        return []
    first = first_placements(placements)
    return thin_history_warnings(posts_before(posts, first), first, placements, file)


def thin_history_warnings(
    before: pd.Series, first: pd.Series, placements: pd.DataFrame, file: str
) -> list[Problem]:
    """The warning of `history_warnings` from the counts of `posts_before` (all accounts)."""
    counts = before.reindex(first.index, fill_value=0)
    thin = counts[counts < MIN_POSTS_BEFORE_PLACEMENT]
    if thin.empty:
        return []
    mask = placements["account_id"].isin(thin.index)
    rows, count = _positions(mask)
    shown = ", ".join(map(str, thin.index[:5])) + (", ..." if len(thin) > 5 else "")
    return [
        Problem(
            file,
            "account_id",
            f"placements of {len(thin)} accounts with fewer than {MIN_POSTS_BEFORE_PLACEMENT} "
            f"posts before their first placement ({shown}), whose features will be thin",
            rows,
            count,
            warning=True,
            rule=Rule.THIN_HISTORY,
        )
    ]
