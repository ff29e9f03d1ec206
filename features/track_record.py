"""Track record: what an account's earlier placements actually caused.

Past local influence predicts future influence (Bakshy et al. 2011). A past
placement's outcomes count only once its attribution window has closed
(`posted_at + window <= the placement's posted_at`): outcomes still accruing are
not known yet. Rates per follower and per unit cost are shrunk toward the
population mean, so that one lucky placement does not make a star.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import OUTCOMES
from features.history import DAY, as_utc, days_between

__all__ = ["fit_priors", "followers_at", "pooled_priors", "track_features"]


def followers_at(placements: pd.DataFrame, posts: pd.DataFrame) -> pd.Series:
    """Followers shown on each placement's account's last post strictly before it.

    Takes placements (`account_id`, `posted_at`) and prepared posts (sorted per
    account in time); returns a Series aligned with `placements.index` (NaN when
    the account had no earlier post).
    """
    left = placements[["account_id", "posted_at"]].assign(
        _row=np.arange(len(placements)), posted_at=as_utc(placements["posted_at"])
    )
    left = left.sort_values("posted_at", kind="stable")
    right = posts[["account_id", "posted_at", "followers"]].sort_values("posted_at", kind="stable")
    merged = pd.merge_asof(
        left,
        right,
        on="posted_at",
        by="account_id",
        direction="backward",
        allow_exact_matches=False,
    )
    values = np.full(len(placements), np.nan)
    values[merged["_row"].to_numpy()] = merged["followers"].to_numpy(dtype=float)
    return pd.Series(values, index=placements.index)


def fit_priors(placements: pd.DataFrame, posts: pd.DataFrame) -> dict[str, float]:
    """Population rates per follower and per unit cost for each outcome.

    Takes training placements with outcomes and prepared posts. Returns
    `{outcome}_per_follower` and `{outcome}_per_cost` pooled over all placements
    (sum of outcome over sum of followers or cost): the means that thin track
    records are shrunk toward.
    """
    return pooled_priors(placements, followers_at(placements, posts))


def pooled_priors(placements: pd.DataFrame, followers: pd.Series) -> dict[str, float]:
    """`fit_priors` from the placements and their `followers_at` values (aligned by index).

    Split out so that a distributed fit can compute `followers_at` per partition of
    accounts and pool here, in the placements' own order: the sums, and so the
    priors, are then identical to the single-machine fit's to the bit.
    """
    frame = placements.assign(_followers=followers)
    priors: dict[str, float] = {}
    for outcome in OUTCOMES:
        done = frame.dropna(subset=[outcome])
        followers_sum = float(done["_followers"].fillna(0.0).sum())
        cost = float(done["cost"].sum())
        total = float(done[outcome].sum())
        priors[f"{outcome}_per_follower"] = total / followers_sum if followers_sum > 0 else 0.0
        priors[f"{outcome}_per_cost"] = total / cost if cost > 0 else 0.0
    return priors


def track_features(
    targets: pd.DataFrame,
    history: pd.DataFrame,
    posts: pd.DataFrame,
    priors: dict[str, float],
    window_days: int,
    prior_strength: float,
) -> pd.DataFrame:
    """Track-record features per target placement, indexed by `_p`.

    Takes the targets, the placements whose outcomes may be known (`history`,
    the contract's placements table), prepared posts, fitted priors, the
    attribution window and the prior's weight in pseudo-placements. Returns
    `track_*` columns: counts, shrunk rates, days since the last placement.
    """
    index = pd.Index(targets["_p"], name="_p")
    past = history[["placement_id", "account_id", "posted_at", "cost", *OUTCOMES]].copy()
    past["posted_at"] = as_utc(past["posted_at"])
    # A canonical order makes every sum below independent of the input row order.
    past = past.sort_values(["account_id", "posted_at", "placement_id"], kind="stable")
    past["followers_then"] = followers_at(past, posts).to_numpy()
    left = targets[["_p", "account_id", "posted_at"]].rename(columns={"posted_at": "at"})
    pairs = left.merge(past, on="account_id", how="inner", sort=False)
    earlier = pairs[pairs["posted_at"] < pairs["at"]]
    closed = earlier[earlier["posted_at"] + window_days * DAY <= earlier["at"]]

    out = pd.DataFrame(index=index)
    last = earlier.groupby("_p", sort=False)["posted_at"].max()
    at = targets.set_index("_p")["posted_at"]
    out["track_days_since_last"] = days_between(at.reindex(last.index), last)
    out["track_placements_known"] = closed.groupby("_p", sort=False).size()
    out["track_placements_pending"] = (
        earlier.groupby("_p", sort=False).size().sub(out["track_placements_known"], fill_value=0)
    )
    for outcome in OUTCOMES:
        done = closed.dropna(subset=[outcome])
        sums = done.groupby("_p", sort=False)[[outcome, "followers_then", "cost"]].sum()
        n = done.groupby("_p", sort=False).size().reindex(index).fillna(0.0)
        per_follower = (sums[outcome] / sums["followers_then"].clip(lower=1.0)).reindex(index)
        per_cost = (sums[outcome] / sums["cost"].where(sums["cost"] > 0)).reindex(index)
        for name, raw in (("per_follower", per_follower), ("per_cost", per_cost)):
            prior = priors[f"{outcome}_per_{name.split('_')[1]}"]
            # Shrink: n real placements against `prior_strength` placements at the mean.
            shrunk = (n * raw.fillna(0.0) + prior_strength * prior) / (n + prior_strength)
            out[f"track_{outcome}_{name}"] = shrunk
    out["track_placements_known"] = out["track_placements_known"].fillna(0.0)
    out["track_placements_pending"] = out["track_placements_pending"].reindex(index).fillna(0.0)
    return out.astype(np.float64)
