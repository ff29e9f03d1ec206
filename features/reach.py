"""Reach: how many people an account's posts can get in front of, and how honestly.

Followers at the last post, their growth, the burstiness of that growth (bought
followers arrive in sudden jumps that typical organic growth never shows), the
following/followers ratio, posting frequency, views and account age.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import as_utc, days_between

__all__ = ["reach_features"]


def _last(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("_p", sort=False)[column].last()


def _growth(joined: pd.DataFrame, days: int, last: pd.Series) -> pd.Series:
    window = joined[joined["age_days"] <= days]
    first = window.groupby("_p", sort=False)["followers"].first()
    return last.reindex(first.index) / first.clip(lower=1.0) - 1.0


def reach_features(
    targets: pd.DataFrame, joined: pd.DataFrame, accounts: pd.DataFrame
) -> pd.DataFrame:
    """Reach features per target placement, indexed by `_p`.

    Takes the targets, their joined history (`features.history.join_history`,
    sorted by `_p` then time) and the accounts table. Returns `reach_*` columns;
    a placement with no earlier post gets missing values, not an error.
    """
    index = pd.Index(targets["_p"], name="_p")
    last = _last(joined, "followers")
    jumps = joined["follower_jump"].clip(lower=0.0)
    by_p = jumps.groupby(joined["_p"], sort=False)
    max_jump = by_p.max()
    typical_jump = by_p.median()
    n_90 = joined[joined["age_days"] <= 90].groupby("_p", sort=False).size()
    views = joined.dropna(subset=["views"])
    views_by_p = views.groupby("_p", sort=False)
    per_follower = (views["views"] / views["followers"].clip(lower=1.0)).groupby(views["_p"])
    following = _last(joined.dropna(subset=["following"]), "following")

    created = targets[["_p", "account_id", "posted_at"]].merge(
        accounts[["account_id", "created_at"]], on="account_id", how="left"
    )
    age = pd.Series(
        days_between(created["posted_at"], as_utc(created["created_at"])).to_numpy(),
        index=created["_p"],
    )

    out = pd.DataFrame(
        {
            "reach_followers": last,
            "reach_growth_30d": _growth(joined, 30, last),
            "reach_growth_90d": _growth(joined, 90, last),
            "reach_burst_ratio": max_jump / (typical_jump + 1.0),
            "reach_max_jump_share": max_jump / last.clip(lower=1.0),
            "reach_following_ratio": following / last.reindex(following.index).clip(lower=1.0),
            "reach_posts_per_week": n_90 / (90.0 / 7.0),
            "reach_median_views": views_by_p["views"].median(),
            "reach_views_per_follower": per_follower.median(),
        }
    ).reindex(index)
    out["reach_posts_per_week"] = out["reach_posts_per_week"].fillna(0.0)
    out["reach_account_age_days"] = age.reindex(index).to_numpy()
    return out.astype(np.float64)
