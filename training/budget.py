"""Spend a budget on candidates: the selection rule every policy comparison uses.

A policy is a priority over a campaign's candidates (predicted value per unit cost
for the model, follower count for the follower rule, the truth's expected value per
unit cost for the oracle). Each spends the same budget the same way, so that the
only difference between policies is the order in which they want candidates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["greedy_select", "spend_per_campaign"]


def greedy_select(
    cost: npt.ArrayLike, priority: npt.ArrayLike, budget: float
) -> npt.NDArray[np.bool_]:
    """Choose candidates in descending priority, skipping any that no longer fit.

    Takes costs (>= 0) and priorities of the same length and a budget; returns a
    boolean mask of the chosen candidates whose summed cost is at most `budget`.
    Ties keep the input order (a stable sort), so callers that need an order-free
    result sort their candidates by id first.
    """
    cost_arr = np.asarray(cost, dtype=float)
    prio = np.asarray(priority, dtype=float)
    chosen = np.zeros(cost_arr.size, dtype=bool)
    spent = 0.0
    # A loop over one campaign's candidates: skipping must see what is left. Comparing
    # the running sum (not a shrinking remainder) keeps 0.1 + 0.2 within a budget of 0.3.
    tolerance = 1e-9 * max(1.0, abs(float(budget)))
    for i in np.argsort(-prio, kind="stable"):
        if spent + cost_arr[i] <= budget + tolerance:
            chosen[i] = True
            spent += cost_arr[i]
    return chosen


def spend_per_campaign(
    frame: pd.DataFrame, priority: str, share: float = 0.3, campaign: str = "campaign_id"
) -> pd.Series:
    """For each campaign, spend `share` of its candidates' summed cost by `priority`.

    `frame` needs the columns `campaign`, `placement_id`, `cost` and `priority`.
    Returns a boolean Series aligned with `frame`: True for chosen candidates.
    """
    chosen = pd.Series(False, index=frame.index)
    ordered = frame.sort_values([campaign, "placement_id"], kind="stable")
    for _, group in ordered.groupby(campaign, sort=False):
        budget = share * float(group["cost"].sum())
        mask = greedy_select(group["cost"], group[priority], budget)
        chosen.loc[group.index[mask]] = True
    return chosen
