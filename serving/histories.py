"""Histories sent with candidates the service does not know, checked in one pass per request.

`coerce_table` costs a few milliseconds of pandas per column whatever a table's
size, so checking each of 1,000 one-post histories on its own took most of a
20-40 s request. Here the histories are stacked into one frame and checked by
`coerce_tables` at once; each candidate still gets the problems of its own
history, worded and with rows numbered as if it had been checked alone.

One account, one history: the first candidate's history describes the account.
When that history is refused (the candidate's error), the next candidate of the
account with a history is tried, and so on, so a request needs one pass per
refused history of the same account, and usually one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress
from types import NoneType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import POSTS, Kind
from features.errors import Problem
from features.validate import coerce_table, coerce_tables

__all__ = ["Histories", "HistoryIn", "check_histories"]

HistoryIn = tuple[int, str, list[dict[str, Any]]]
"""A candidate's position in the request, its account and the posts sent with it."""

_INDEX = "\x00candidate"  # the hidden column of the stacked posts: which candidate sent them

# Values whose reading does not depend on the rest of their column, so that a stacked
# column parses each exactly as the history's own column would (tested). Anything else
# (numpy scalars, nested lists, ...) is checked on its own, as before.
_PLAIN: dict[Kind, tuple[type, ...]] = {
    Kind.STRING: (str, NoneType),
    Kind.TIMESTAMP: (str, datetime, pd.Timestamp, NoneType),
    Kind.COUNT: (int, float, NoneType),
    Kind.AMOUNT: (int, float, NoneType),
    Kind.BOOL: (bool, NoneType),
}
# Whole numbers beyond 2**53 are not all floats: an int64 column keeps them exact.
_EXACT = 2.0**53
# pandas parses a whole timestamp column at the finest resolution any value needs; at
# nanoseconds, dates past 2262 no longer fit, so one such value would change the others.
_NANOSECONDS = re.compile(r"[.,]\d{7}")


@dataclass(frozen=True)
class Histories:
    """The histories of a request, checked.

    `posts` holds the contract's POSTS columns of every accepted history, in request
    order; `latest` each accepted account's latest post time; `errors` each refused
    candidate's reason, by its position in the request.
    """

    posts: pd.DataFrame
    latest: dict[str, pd.Timestamp] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)


def check_histories(sent: list[HistoryIn], max_posts: int) -> Histories:
    """Check the histories `sent` (in request order) against the contract, in one pass or few.

    A history longer than `max_posts` is refused unread. Returns what `Histories`
    describes; a candidate whose account was accepted from an earlier candidate's
    history is neither checked nor refused.
    """
    queue: dict[str, list[HistoryIn]] = {}
    for item in sent:
        queue.setdefault(item[1], []).append(item)
    latest: dict[str, pd.Timestamp] = {}
    errors: dict[int, str] = {}
    pieces: list[pd.DataFrame] = []
    depth = 0
    while batch := [q[depth] for a, q in queue.items() if a not in latest and depth < len(q)]:
        fits = []
        for item in batch:
            if len(item[2]) > max_posts:
                errors[item[0]] = (
                    f"history has {len(item[2])} posts; at most {max_posts} are accepted"
                )
            else:
                fits.append(item)
        posts, problems = _check(fits)
        for (index, _, _), found in zip(fits, problems, strict=True):
            if found:
                errors[index] = "; ".join(str(p).rstrip(".") for p in found)
        accepted = posts[~posts[_INDEX].isin(list(errors))]
        account_of = {index: account for index, account, _ in fits}
        maxima = accepted.groupby(_INDEX)["posted_at"].max()
        for candidate, when in zip(maxima.index.tolist(), maxima.tolist(), strict=True):
            latest[account_of[candidate]] = when
        pieces.append(accepted)
        depth += 1
    posts = pd.concat(pieces, ignore_index=True) if pieces else _check([])[0]
    # Rows in request order, as the histories come: later passes hold earlier candidates too.
    posts = posts.iloc[np.argsort(posts[_INDEX].to_numpy(), kind="stable")]
    return Histories(posts.drop(columns=_INDEX).reset_index(drop=True), latest, errors)


def _check(batch: list[HistoryIn]) -> tuple[pd.DataFrame, list[list[Problem]]]:
    """Typed posts (with `_INDEX`) and problems of each history of `batch`, in its order.

    Histories of plain values are stacked and checked at once; the others alone.
    """
    odd = {
        k
        for k, (_, account, history) in enumerate(batch)
        if type(account) is not str or any(type(p) is not dict for p in history)
    }
    plain = [k for k in range(len(batch)) if k not in odd]
    sizes = [len(batch[k][2]) for k in plain]
    flat = [p for k in plain for p in batch[k][2]]
    values = {c.name: [p.get(c.name) for p in flat] for c in POSTS.columns}
    owner = np.repeat(np.arange(len(plain), dtype=np.intp), sizes)
    if more := _odd_values(values, owner):  # rare: set those histories aside
        keep = ~np.isin(owner, list(more))
        values = {c: list(compress(v, keep)) for c, v in values.items()}
        odd |= {plain[k] for k in more}
        plain = [k for k in plain if k not in odd]
    posts, stacked = _check_stacked([batch[k] for k in plain], values)
    problems = dict(zip(plain, stacked, strict=True))
    frames = [posts]
    for k in sorted(odd):
        alone, problems[k] = _check_alone(*batch[k])
        frames.append(alone)
    posts = pd.concat(frames, ignore_index=True) if len(frames) > 1 else posts
    return posts, [problems[k] for k in range(len(batch))]


def _raw(history: list[dict[str, Any]], account: str) -> pd.DataFrame:
    """A history as the table `coerce_table` reads: its account, and ids where none is sent."""
    raw = pd.DataFrame(history)
    raw["account_id"] = account
    if "post_id" not in raw:
        raw["post_id"] = None
    missing_id = raw["post_id"].isna()
    if not missing_id.any():  # (pandas refuses even no text in a column of numbers)
        return raw
    if raw["post_id"].dtype.kind in "biufc":
        # pandas refuses text in a column of numbers (or of nothing but gaps); as objects
        # the numbers read as before.
        raw["post_id"] = raw["post_id"].astype(object)
    raw.loc[missing_id, "post_id"] = [f"{account}/h{i}" for i in np.flatnonzero(missing_id)]
    return raw


def _check_alone(
    index: int, account: str, history: list[dict[str, Any]]
) -> tuple[pd.DataFrame, list[Problem]]:
    posts, problems = coerce_table(POSTS, _raw(history, account), _file(index))
    return posts.assign(**{_INDEX: index}), problems


def _file(index: int) -> str:
    return f"candidates[{index}].history"


def _odd_values(values: dict[str, list[Any]], owner: npt.NDArray[np.intp]) -> set[int]:
    """Which histories (`owner` of each row) hold a value that is not plain (see `_PLAIN`)."""
    odd: set[int] = set()
    for col in POSTS.columns:
        if col.name == "account_id":  # the candidate's own, not read from the posts
            continue
        column = values[col.name]
        allowed = _PLAIN[col.kind]
        types = set(map(type, column))
        if not types <= set(allowed):
            odd |= {int(owner[r]) for r, v in enumerate(column) if type(v) not in allowed}
            column = [v if type(v) in allowed else None for v in column]
        if int in types and col.kind in (Kind.COUNT, Kind.AMOUNT):
            numbers = pd.Series(column, dtype="float64").to_numpy()
            odd |= set(owner[np.abs(numbers) > _EXACT].tolist())
        if (str in types or pd.Timestamp in types) and col.kind is Kind.TIMESTAMP:
            odd |= {
                int(owner[r])
                for r, v in enumerate(column)
                if (type(v) is str and _NANOSECONDS.search(v))
                or (type(v) is pd.Timestamp and v.unit == "ns")
            }
    return odd


def _check_stacked(
    batch: list[HistoryIn], values: dict[str, list[Any]]
) -> tuple[pd.DataFrame, list[list[Problem]]]:
    """The histories of `batch` (plain values only; `values` their posts' column by column)
    stacked, typed and checked at once."""
    sizes = np.array([len(h) for _, _, h in batch], dtype=np.intp)
    group = np.repeat(np.arange(len(batch), dtype=np.intp), sizes)
    position = np.arange(group.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    keys = [set().union(*h) for _, _, h in batch]
    raw: dict[str, pd.Series] = {}
    present: dict[str, npt.NDArray[np.bool_]] = {}
    for col in POSTS.columns:
        column = values[col.name]
        if col.name == "account_id":  # as each history is read: its candidate's account
            column = [a for (_, a, _), n in zip(batch, sizes, strict=True) for _ in range(n)]
        elif col.name == "post_id":  # always there: missing ids are made up, as `_raw` does
            column = [
                v if v is not None else f"{batch[g][1]}/h{i}"
                for v, g, i in zip(column, group, position, strict=True)
            ]
        else:
            present[col.name] = np.array([col.name in k for k in keys], dtype=bool)
        numeric = col.kind in (Kind.COUNT, Kind.AMOUNT)
        raw[col.name] = pd.Series(column, dtype="float64" if numeric else object)
    files = [_file(index) for index, _, _ in batch]
    posts, problems = coerce_tables(POSTS, pd.DataFrame(raw), group, files, present)
    candidate = np.array([index for index, _, _ in batch], dtype=np.intp)
    return posts.assign(**{_INDEX: candidate[group]}), problems
