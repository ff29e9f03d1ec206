"""A campaign's shortlist as an analyst exports it: a CSV of accounts, their quotes if any.

`influence rank --shortlist FILE.csv` and the planner page's upload (`/app/plan`) read it
here, one code path. Columns: `account_id`; optional `cost` (a blank cell: the price model
estimates one) and `posted_at` (when the post is planned). Headers are matched as the data
directory's are (`features.headers`: any case, spacing or punctuation, `Account ID`), the
text as `features.files` reads a CSV (a byte order mark, `;`, tab or `|` delimiters), and
other columns (names, notes) are left alone. Costs may carry thousands separators
(`1,250` or `1,250.50`: a spreadsheet's own formatting, which cannot mean anything else);
decimal commas, abbreviations and currency symbols are not guessed at and are reported with
their likely cause, as validation reports them. Every problem is found in one pass and
raised together (`ShortlistError`), each naming the file, column, rows and values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import Column, Kind, TableSpec
from features.errors import Problem, Rule
from features.files import read_csv_bytes
from features.headers import ReadOptions, match_headers
from features.validate import coerce_table
from serving.errors import ShortlistError
from serving.scoring import CandidateIn

__all__ = ["MIN_COST", "SHORTLIST", "read_shortlist"]

SHORTLIST = TableSpec(
    name="shortlist",
    columns=(
        Column("account_id", Kind.STRING),
        Column("cost", Kind.AMOUNT, required=False, nullable=True),
        Column("posted_at", Kind.TIMESTAMP, required=False, nullable=True),
    ),
    key="account_id",
)
"""The shortlist's columns, checked as the contract's tables are (`coerce_table`)."""

MIN_COST = 0.01
"""The smallest quote, as the API takes it (`serving.schemas.Money`): a cent."""

_THOUSANDS = re.compile(r"^\s*\d{1,3}(,\d{3})+(\.\d+)?\s*$")
_MAX_SHOWN = 5


def _plain_costs(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with costs such as `1,250` written plainly (`1250`); every other cell as read."""
    if "cost" not in raw.columns or not pd.api.types.is_string_dtype(raw["cost"]):
        return raw
    cost = raw["cost"].astype("string")
    grouped = cost.str.match(_THOUSANDS).fillna(False).astype(bool)
    if not grouped.any():
        return raw
    out = raw.copy()
    out["cost"] = cost.where(~grouped, cost.str.replace(",", "", regex=False))
    return out


def _located(
    file: str, column: str, message: str, hit: npt.NDArray[np.intp], values: list[str], rule: Rule
) -> Problem:
    rows = tuple(int(i) for i in hit[:_MAX_SHOWN])
    problem = Problem(file, column, message, rows, int(hit.size), rule=rule)
    return problem.with_cells(tuple(values[:3]), "")


def read_shortlist(
    data: bytes,
    file: str,
    max_rows: int,
    known: Callable[[str], bool] | None = None,
    dayfirst: bool = False,
) -> list[CandidateIn]:
    """The candidates of a shortlist CSV's bytes, in the file's order.

    Takes the bytes, the file's name (for the messages), the most rows a shortlist may
    have (the API's candidate limit), whether an account is in the served data (None:
    not checked) and whether dates such as 25/03/2026 are day first. Raises
    ShortlistError listing every problem: a file that cannot be read, a missing
    `account_id` column, empty ids, costs that are not numbers or are below a cent,
    dates that are not dates, an account listed twice, accounts the data does not hold,
    or more rows than `max_rows`.
    """
    try:
        raw, unreadable, _ = read_csv_bytes(data, file)
    except (pd.errors.ParserError, ValueError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raw, unreadable = (
            None,
            Problem(file, None, f"cannot be read as CSV: {why}", rule=Rule.UNREADABLE_FILE),
        )
    if raw is None:
        assert unreadable is not None
        raise ShortlistError([unreadable])
    if len(raw) > max_rows:
        message = (
            f"has {len(raw):,} rows; a shortlist may have at most {max_rows:,} candidates, "
            "so split it, or leave it out to discover among every known account"
        )
        raise ShortlistError([Problem(file, None, message, rule=Rule.UNREADABLE_FILE)])
    headers = ", ".join(repr(str(h)) for h in raw.columns)
    matched, problems = match_headers(SHORTLIST, raw, file, ReadOptions(dayfirst=dayfirst))
    typed, found = coerce_table(SHORTLIST, _plain_costs(matched), file, dayfirst=dayfirst)
    reported = {p.column for p in problems}
    problems += [
        replace(p, message=f"missing; a shortlist needs it (the file's headers: {headers})")
        if p.rule is Rule.MISSING_COLUMN
        else p
        for p in found
        if p.rule is not Rule.MISSING_COLUMN or p.column not in reported
    ]
    problems += _below_a_cent(typed, matched, file)
    if not any(p.column is None or p.rule is Rule.MISSING_COLUMN for p in problems):
        problems += _unknown(typed, file, known)
    if problems:
        order = [None, *SHORTLIST.names]
        raise ShortlistError(sorted(problems, key=lambda p: order.index(p.column)))
    posted = typed["posted_at"]
    return [
        CandidateIn(
            account_id=str(a),
            cost=None if np.isnan(c) else float(c),
            posted_at=None if pd.isna(t) else pd.Timestamp(t),
        )
        for a, c, t in zip(typed["account_id"], typed["cost"], posted, strict=True)
    ]


def _below_a_cent(typed: pd.DataFrame, matched: pd.DataFrame, file: str) -> list[Problem]:
    cost = typed["cost"].to_numpy(dtype=np.float64)
    hit = np.flatnonzero((cost >= 0) & (cost < MIN_COST))
    if not hit.size:
        return []
    shown = [str(matched["cost"].iloc[i]).strip() for i in hit[:3]]
    message = f"costs below a cent ({MIN_COST}; leave a cell empty for the model to price it)"
    return [_located(file, "cost", message, hit, shown, Rule.NEGATIVE)]


def _unknown(typed: pd.DataFrame, file: str, known: Callable[[str], bool] | None) -> list[Problem]:
    if known is None:
        return []
    ids = [None if a is None else str(a) for a in typed["account_id"]]
    hit = np.array([i for i, a in enumerate(ids) if a is not None and not known(a)], dtype=np.intp)
    if not hit.size:
        return []
    message = "accounts the served data does not hold"
    shown = [str(ids[i]) for i in hit[:3]]
    return [_located(file, "account_id", message, hit, shown, Rule.UNKNOWN_REFERENCE)]
