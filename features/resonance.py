"""Resonance: how strongly an account's audience responds, and how genuinely.

Engagement rate (median over 7, 30 and 90 days and its trend), comments and shares
per like (engagement pods inflate likes far more than shares), the consistency of
engagement, engagement per view, sponsored against organic engagement and how
saturated the feed already is with sponsored posts (audience fatigue).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["WINDOWS", "resonance_features"]

WINDOWS = (7, 30, 90)
_EPS = 1e-6


def resonance_features(targets: pd.DataFrame, joined: pd.DataFrame) -> pd.DataFrame:
    """Resonance features per target placement, indexed by `_p`.

    Takes the targets and their joined history (`features.history.join_history`).
    Returns `resonance_*` columns; windows with no post give missing values.
    """
    index = pd.Index(targets["_p"], name="_p")
    out = pd.DataFrame(index=index)
    for days in WINDOWS:
        window = joined[joined["age_days"] <= days]
        out[f"resonance_er_median_{days}d"] = window.groupby("_p", sort=False)["er"].median()
    median_90 = out["resonance_er_median_90d"]
    for days in WINDOWS[:-1]:
        ratio = (out[f"resonance_er_median_{days}d"] + _EPS) / (median_90 + _EPS)
        out[f"resonance_er_trend_{days}d_90d"] = np.log(ratio)

    recent = joined[joined["age_days"] <= 90]
    sums = recent.groupby("_p", sort=False)[["likes", "comments", "shares"]].sum()
    likes = sums["likes"].clip(lower=1.0)
    out["resonance_comments_per_like"] = sums["comments"] / likes
    out["resonance_shares_per_like"] = sums["shares"] / likes
    er = recent.groupby("_p", sort=False)["er"]
    out["resonance_er_cv"] = er.std() / (er.mean() + _EPS)

    viewed = recent.dropna(subset=["views"])
    view_sums = viewed.groupby("_p", sort=False)[["engagement", "views"]].sum()
    out["resonance_engagement_per_view"] = view_sums["engagement"] / view_sums["views"].clip(
        lower=1.0
    )

    flagged = recent.dropna(subset=["sponsored"])
    is_sponsored = flagged["sponsored"].astype(bool)
    by_kind = flagged.groupby([flagged["_p"], is_sponsored.rename("kind")], sort=False)["er"]
    medians = by_kind.median().unstack("kind")
    if True in medians.columns and False in medians.columns:
        out["resonance_sponsored_vs_organic"] = (medians[True] + _EPS) / (medians[False] + _EPS)
    else:
        out["resonance_sponsored_vs_organic"] = np.nan
    last_30 = flagged[flagged["age_days"] <= 30]
    sponsored_30 = last_30["sponsored"].astype(bool).groupby(last_30["_p"], sort=False)
    out["resonance_sponsored_share_30d"] = sponsored_30.mean()
    # No sponsored post in 30 days is a real zero for a placement whose history has
    # the flag at all; without the flag it stays unknown.
    flagged_p = pd.Index(flagged["_p"].unique())
    count = sponsored_30.sum().reindex(index)
    zero = index.isin(flagged_p) & count.isna().to_numpy()
    out["resonance_sponsored_count_30d"] = count.mask(zero, 0.0)
    return out.astype(np.float64)
