"""Spend a budget on candidates: the one place the selection rules live.

Every comparison of policies spends a budget the same way, so that the only difference
between policies is the order in which they want candidates. A policy is a priority
over a campaign's candidates (predicted value per unit cost for the model, follower
count for the follower rule, the truth's expected value per unit cost for the oracle:
`value_per_cost`, `follower_priority`), spent by `greedy_select` (`spend_per_campaign`
for a share of each campaign's shortlist). Evaluation and the backtest (training),
`/rank` (serving) and the simulator's experiment mode all use these functions.

The module sits in the features layer, the lowest one, because the simulator's
experiment mode (`influence simulate --experiment`) spends budgets too and the
features layer never imports training or serving. A copy kept in the simulator had
drifted: it compared a shrinking remainder, so that 0.1 + 0.2 no longer fitted a
budget of 0.3 there while it did here.

The model's portfolio maximises the predicted objective within the budget: a 0/1
knapsack, reduced by the fractional bound to the candidates whose choice is in
doubt, then solved by dynamic programming over costs in units of 1/2000 of what is
left of the budget, kept only if it beats the greedy choice by value per unit cost
on exact costs. For the `roi` objective the value maximised is predicted net return
(revenue - cost, `objective_values`); a candidate expected to lose money is never
bought. (Maximising the portfolio's ROI ratio itself would buy one cheap candidate and
leave the budget unspent, which no brand wants.)

Portfolio totals come with intervals that treat candidates as independent: the
half-widths add in quadrature. That is narrower than adding the bounds (which
assumes every candidate misses in the same direction) and an approximation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "OBJECTIVE_TARGETS",
    "RESOLUTION",
    "Plan",
    "Portfolio",
    "follower_portfolio",
    "follower_priority",
    "greedy_select",
    "knapsack",
    "objective_values",
    "plan",
    "portfolio_roi",
    "portfolio_total",
    "spend_per_campaign",
    "value_per_cost",
]

RESOLUTION = 2000
"""The knapsack's dynamic programme counts costs in units of 1/RESOLUTION of the budget."""

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def greedy_select(cost: npt.ArrayLike, priority: npt.ArrayLike, budget: float) -> Mask:
    """Choose candidates in descending priority, skipping any that no longer fit.

    Takes costs (>= 0) and priorities of the same length and a budget; returns a
    boolean mask of the chosen candidates whose summed cost is at most `budget`
    (within a relative 1e-9, so that 0.1 + 0.2 fits a budget of 0.3). Ties keep the
    input order (a stable sort), so callers that need an order-free result sort
    their candidates by id first.
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
    Candidates are taken in placement id order before `greedy_select`, so that ties
    do not depend on the row order of `frame`.
    """
    chosen = pd.Series(False, index=frame.index)
    ordered = frame.sort_values([campaign, "placement_id"], kind="stable")
    for _, group in ordered.groupby(campaign, sort=False):
        budget = share * float(group["cost"].sum())
        mask = greedy_select(group["cost"], group[priority], budget)
        chosen.loc[group.index[mask]] = True
    return chosen


def value_per_cost(value: npt.ArrayLike, cost: npt.ArrayLike) -> Floats:
    """The priority of a policy that buys value cheaply: value divided by cost.

    Takes each candidate's (predicted or true) value and its cost; returns value per
    unit cost, a cost of 0 counted as 1e-9 so that a free candidate comes first rather
    than dividing by zero.
    """
    ratio = np.asarray(value, dtype=np.float64) / np.maximum(
        np.asarray(cost, dtype=np.float64), 1e-9
    )
    return np.asarray(ratio, dtype=np.float64)


def follower_priority(followers: npt.ArrayLike) -> Floats:
    """The follower-count rule's priority: displayed followers, unknown counts last.

    Takes follower counts (NaN where unknown) and returns them as floats with NaN
    replaced by -1: an account whose count is unknown is bought after every account
    with one, the market's rule having nothing to go on.
    """
    return np.nan_to_num(np.asarray(followers, dtype=np.float64), nan=-1.0)


def follower_portfolio(followers: npt.ArrayLike, costs: npt.ArrayLike, budget: float) -> Mask:
    """What the follower-count rule buys: biggest accounts first while the budget lasts.

    Takes follower counts, costs and a budget; returns the chosen mask of
    `greedy_select` by `follower_priority`: the market's rule, the baseline every
    other policy is compared with.
    """
    return greedy_select(costs, follower_priority(followers), budget)


def _dp(values: Floats, weights: npt.NDArray[np.int64], usable: Mask) -> Mask:
    """0/1 knapsack over integer weights with capacity RESOLUTION; returns the chosen mask."""
    best = np.zeros(RESOLUTION + 1)
    keep = np.zeros((values.size, RESOLUTION + 1), dtype=bool)
    for i in np.flatnonzero(usable):
        w = int(weights[i])
        if w > RESOLUTION:
            continue
        candidate = best[: RESOLUTION + 1 - w] + values[i]
        better = candidate > best[w:]
        keep[i, w:] = better
        best[w:] = np.where(better, candidate, best[w:])
    chosen = np.zeros(values.size, dtype=bool)
    capacity = RESOLUTION
    for i in reversed(np.flatnonzero(usable)):
        if keep[i, capacity]:
            chosen[i] = True
            capacity -= int(weights[i])
    return chosen


def _lp_bound(prefix_cost: Floats, prefix_value: Floats, ratio: Floats, room: Floats) -> Floats:
    """The fractional knapsack's value at each capacity in `room`, items in `ratio` order."""
    k = np.searchsorted(prefix_cost, room, side="right") - 1
    whole = prefix_value[k]
    partial = np.where(k < ratio.size, ratio[np.minimum(k, ratio.size - 1)], 0.0)
    return np.where(room < 0, -np.inf, whole + (room - prefix_cost[k]) * partial)


def _fix(v: Floats, c: Floats, usable: Mask, budget: float, lower: float) -> tuple[Mask, Mask]:
    """Items every solution worth more than `lower` must take, and those it must leave.

    The classical reduction (Martello and Toth): with the fractional knapsack's bound,
    forcing an item out of the greedy's fractional solution, or a left-out one in,
    bounds every solution that does so; where that bound is below `lower`, which a
    feasible choice already reaches, the item is fixed. Returns (take, leave).
    """
    items = np.flatnonzero(usable)
    order = items[np.argsort(-(v[items] / np.maximum(c[items], 1e-12)), kind="stable")]
    cost, value = c[order], v[order]
    ratio = value / np.maximum(cost, 1e-12)
    prefix_cost = np.concatenate([[0.0], np.cumsum(cost)])
    prefix_value = np.concatenate([[0.0], np.cumsum(value)])
    inside = np.arange(order.size) < np.searchsorted(prefix_cost, budget, side="right") - 1
    # Out: the capacity it held goes to the next items. In: the others share what is left.
    without = _lp_bound(prefix_cost, prefix_value, ratio, budget + cost) - value
    with_it = _lp_bound(prefix_cost, prefix_value, ratio, budget - cost) + value
    margin = 1e-9 * max(1.0, abs(lower))
    take, leave = np.zeros(v.size, dtype=bool), np.zeros(v.size, dtype=bool)
    take[order[inside & (without < lower - margin)]] = True
    leave[order[~inside & (with_it < lower - margin)]] = True
    return take, leave


def knapsack(values: npt.ArrayLike, costs: npt.ArrayLike, budget: float) -> Mask:
    """The subset with the largest summed value whose summed cost is at most `budget`.

    Values <= 0 are never chosen. Returns a boolean mask. The greedy choice by value
    per unit cost is the first candidate; items that the fractional bound shows every
    better choice takes or leaves are fixed (`_fix`), and two dynamic programmes run
    on the rest, in units of 1/2000 of the budget left, one rounding costs up (its
    answer always fits) and one rounding to the nearest unit (finds sets that fill
    the budget exactly; kept only if its exact cost fits). The best that fits wins.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(costs, dtype=float)
    usable = (v > 0) & (c <= budget) & np.isfinite(v) & np.isfinite(c)
    ratio = np.where(usable, v / np.maximum(c, 1e-12), -np.inf)
    options = [greedy_select(np.where(usable, c, np.inf), ratio, budget) & usable]
    if budget > 0 and usable.any():
        take, leave = _fix(v, c, usable, budget, float(v[options[0]].sum()))
        rest, left = usable & ~take & ~leave, budget - float(c[take].sum())
        if rest.any() and left > 0:
            scaled = c / left * RESOLUTION
            options.append(take | _dp(v, np.ceil(scaled).astype(np.int64), rest))
            options.append(take | _dp(v, np.rint(scaled).astype(np.int64), rest))
        else:
            options.append(take)
    fits = [m for m in options if c[m].sum() <= budget]
    return max(fits, key=lambda m: float(v[m].sum()))


OBJECTIVE_TARGETS: Mapping[str, str] = {
    "clicks": "clicks",
    "referrals": "referrals",
    "conversions": "conversions",
    "revenue": "revenue",
    "roi": "revenue",
}
"""The predicted target each objective needs: `revenue` for `roi`, else the objective."""


def objective_values(objective: str, predictions: Mapping[str, Floats], costs: Floats) -> Floats:
    """What a portfolio for `objective` maximises, per candidate, for `knapsack`.

    Takes the objective (a target, or `roi`), the predicted expected value per target
    and the candidates' costs; returns the predicted target, or for `roi` the
    predicted net return, revenue - cost (see the module's docstring for why not the
    ratio).
    """
    if objective == "roi":
        return np.asarray(predictions["revenue"] - costs, dtype=np.float64)
    return predictions[OBJECTIVE_TARGETS[objective]]


def portfolio_total(
    expected: Floats, low: Floats, high: Floats, mask: Mask
) -> tuple[float, float, float]:
    """Summed expected value of the chosen rows, with an approximate interval.

    Takes each candidate's expected value and interval bounds and the chosen mask;
    returns (total, low, high), the half-widths added in quadrature and the low end
    kept at or above 0, as the candidates are treated as independent.
    """
    e, lo, hi = expected[mask], low[mask], high[mask]
    total = float(e.sum())
    down = float(np.sqrt(((e - lo) ** 2).sum()))
    up = float(np.sqrt(((hi - e) ** 2).sum()))
    return total, max(total - down, 0.0), total + up


def portfolio_roi(revenue: float, cost: float) -> float | None:
    """A portfolio's return on its cost, (revenue - cost) / cost; None when it costs nothing.

    Takes the portfolio's (expected) revenue and its summed cost; an empty or free
    portfolio has no return to speak of, so it gets None rather than a division by 0.
    """
    return (revenue - cost) / cost if cost > 0 else None


@dataclass(frozen=True)
class Portfolio:
    """Candidates bought within a budget: which, what they cost, their predicted totals.

    `totals[target]` is (expected, low, high) by `portfolio_total`; `roi` is
    `portfolio_roi` of the expected revenue, None without a revenue model.
    """

    mask: Mask
    cost: float
    totals: Mapping[str, tuple[float, float, float]]
    roi: float | None


@dataclass(frozen=True)
class Plan:
    """The model's portfolio and the follower rule's, for the same candidates and budget.

    `value` is what the model's portfolio maximises per candidate (`objective_values`).
    """

    value: Floats
    model: Portfolio
    follower_rule: Portfolio


def plan(
    objective: str,
    predictions: Mapping[str, Floats],
    costs: Floats,
    followers: Floats,
    budget: float,
) -> Plan:
    """Spend `budget` twice: by the model (`knapsack` on the objective) and by followers.

    Takes the objective, the model's predictions per column (`T`, `T_low`, `T_high`
    for each target T, as `ModelBundle.predict_arrays` returns them), each
    candidate's cost and displayed followers, and the budget. Returns both portfolios
    with their totals, so that a caller compares them without spending again.
    """
    targets = [t for t in predictions if f"{t}_low" in predictions]
    value = objective_values(objective, predictions, costs)

    def bought(mask: Mask) -> Portfolio:
        totals = {
            t: portfolio_total(
                predictions[t], predictions[f"{t}_low"], predictions[f"{t}_high"], mask
            )
            for t in targets
        }
        cost = float(costs[mask].sum())
        roi = portfolio_roi(totals["revenue"][0], cost) if "revenue" in totals else None
        return Portfolio(mask=mask, cost=cost, totals=totals, roi=roi)

    return Plan(
        value=value,
        model=bought(knapsack(value, costs, budget)),
        follower_rule=bought(follower_portfolio(followers, costs, budget)),
    )
