"""The moment a data directory stands at: its latest observed event, never a plan.

A placement with no outcome yet (every outcome column empty) is a plan: it says
nothing about how far the data has been observed, so it must not move the moment
features are built at. Rows dated after the moment a command runs are not
observations either (a clock or export error); they are ignored here and reported
by `influence validate` as warnings.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from features.contract import OUTCOMES
from features.errors import Problem, Rule

__all__ = ["first_unobserved", "future_warnings", "observed_placements", "observed_until"]


def _now(now: pd.Timestamp | None) -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)


def first_unobserved(now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The first moment after `now` (default: the current time, UTC), at the contract's
    microsecond resolution: a row dated at or after it lies in the future.

    For engines that filter with `posted_at < until` (the Dask partitions), so that they
    keep exactly the rows `observed_until` keeps.
    """
    return _now(now) + pd.Timedelta(microseconds=1)


def observed_placements(placements: pd.DataFrame, now: pd.Timestamp | None = None) -> pd.Series:
    """A mask of the placements that are observations: some outcome known, dated by `now`."""
    return _has_outcome(placements) & (placements["posted_at"] <= _now(now))


def _has_outcome(placements: pd.DataFrame) -> pd.Series:
    return placements[list(OUTCOMES)].notna().any(axis=1)


def observed_until(
    post_times: pd.Series, placements: pd.DataFrame, now: pd.Timestamp | None = None
) -> pd.Timestamp:
    """The moment the data stands at: its latest post or placement with outcomes, up to `now`.

    Takes the posts' `posted_at` (all of them, or any subset holding the latest ones,
    such as each partition's latest before `first_unobserved(now)`), the placements
    table and the moment the command runs (default: the current time, UTC). Planned
    placements (every outcome empty) and rows dated after `now` are left out. Returns
    NaT when nothing was observed.
    """
    cut = _now(now)
    posts = pd.Series(post_times)
    latest_post = posts[posts <= cut].max()
    latest_placement = placements.loc[observed_placements(placements, cut), "posted_at"].max()
    known = [t for t in (latest_post, latest_placement) if pd.notna(t)]
    return pd.Timestamp(max(known)) if known else cast(pd.Timestamp, pd.NaT)


def _iso(moment: pd.Timestamp) -> str:
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(mask: pd.Series) -> tuple[tuple[int, ...], int]:
    idx = np.flatnonzero(mask.to_numpy(dtype=bool))
    return tuple(int(i) for i in idx[:5]), int(idx.size)


def future_warnings(
    posts: pd.DataFrame,
    placements: pd.DataFrame,
    files: dict[str, str],
    now: pd.Timestamp | None = None,
) -> list[Problem]:
    """Warn about posts, and placements with outcomes, dated after `now`.

    Takes the typed posts and placements, their file names (`files["posts"]`,
    `files["placements"]`) and the moment the command runs. A planned placement in
    the future is what a plan is, so only placements with an outcome are named.
    Returns one warning per table that has such rows, naming the latest date.
    """
    cut = _now(now)
    found: list[Problem] = []
    checks = (
        ("posts", posts, posts["posted_at"] > cut, "posts"),
        (
            "placements",
            placements,
            (placements["posted_at"] > cut) & _has_outcome(placements),
            "placements with outcomes",
        ),
    )
    for name, frame, mask, what in checks:
        rows, count = _rows(mask)
        if not count:
            continue
        latest = pd.Timestamp(frame.loc[mask.to_numpy(dtype=bool), "posted_at"].max())
        message = (
            f"{what} dated after now ({_iso(cut)}; the latest {_iso(latest)}), "
            "not counted in the moment the data stands at"
        )
        found.append(
            Problem(
                files[name],
                "posted_at",
                message,
                rows,
                count,
                warning=True,
                rule=Rule.DATED_AFTER_NOW,
            )
        )
    return found
