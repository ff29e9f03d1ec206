"""Point-in-time joins: each placement with the posts its account made before it.

Every feature family reads the same joined frame, so the rule that nothing at or
after a placement's `posted_at` may reach its features lives in one place:
`join_history` keeps a post only when `post.posted_at < placement.posted_at`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DAY", "as_utc", "days_between", "join_history", "prepare_posts", "targets_frame"]

DAY = pd.Timedelta(days=1)


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Elapsed days from `earlier` to `later`, element-wise, as floats (NaN where unknown)."""
    return (later - earlier).dt.total_seconds() / 86400.0


TARGET_KEYS = ["placement_id", "account_id", "campaign_id", "posted_at"]


def as_utc(times: pd.Series) -> pd.Series:
    """Timestamps as UTC at microsecond resolution, whatever unit they arrived in.

    Frames built in code (an API request, a test) may carry nanoseconds while files
    load as microseconds; time joins need one unit on both sides.
    """
    return pd.to_datetime(times, utc=True).dt.as_unit("us")


def targets_frame(placements: pd.DataFrame) -> pd.DataFrame:
    """The placements to build features for, with a dense integer key `_p`.

    Takes the contract's placements table (typed) and returns its key columns in
    input order plus `_p` = 0..n-1, the key every family groups by.
    """
    targets = placements[TARGET_KEYS].reset_index(drop=True).copy()
    targets["posted_at"] = as_utc(targets["posted_at"])
    targets["_p"] = np.arange(len(targets), dtype=np.int64)
    return targets


def prepare_posts(posts: pd.DataFrame) -> pd.DataFrame:
    """Sort posts per account in time and add per-post quantities used by several families.

    Adds `engagement` (likes + comments + shares), `er` (engagement per follower),
    and `follower_jump` (followers gained since the account's previous post; NaN for
    its first). Each value uses only the post itself and the account's previous
    post, so it is known at the time of the post. Ties in time are broken by
    `post_id`, so that the result does not depend on the input row order.
    """
    frame = posts.assign(posted_at=as_utc(posts["posted_at"]))
    frame = frame.sort_values(["account_id", "posted_at", "post_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    engagement = frame["likes"] + frame["comments"] + frame["shares"]
    frame["engagement"] = engagement
    frame["er"] = engagement / frame["followers"].clip(lower=1.0)
    previous = frame.groupby("account_id", sort=False)["followers"].shift(1)
    frame["follower_jump"] = frame["followers"] - previous
    return frame


def join_history(targets: pd.DataFrame, posts: pd.DataFrame, lookback_days: int) -> pd.DataFrame:
    """Pair each target placement with its account's posts in the look-back window.

    Takes `targets_frame(...)` and `prepare_posts(...)`; returns one row per
    (placement, post) with the post strictly before the placement and at most
    `lookback_days` older, plus `age_days` = how long before the placement the
    post went live. Vectorised: one merge on `account_id` and one filter.
    """
    left = targets[["_p", "account_id", "posted_at"]].rename(columns={"posted_at": "at"})
    joined = left.merge(posts, on="account_id", how="inner", sort=False)
    age = days_between(joined["at"], joined["posted_at"])
    keep = (age > 0) & (age <= lookback_days)
    joined = joined.loc[keep.to_numpy()].copy()
    joined["age_days"] = age[keep].to_numpy()
    ordered: pd.DataFrame = joined.sort_values(["_p", "posted_at", "post_id"], kind="stable")
    return ordered.reset_index(drop=True)
