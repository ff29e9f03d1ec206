"""Choose a portfolio within a budget: the model's, and the follower rule's beside it.

The model's portfolio maximises the predicted objective within the budget: a 0/1
knapsack solved by dynamic programming over costs rounded up to 1/2000 of the
budget (so the answer always fits), kept only if it beats the greedy choice by
value per unit cost on exact costs. For the `roi` objective the value maximised is
predicted net return (revenue - cost); a candidate expected to lose money is never
bought. (Maximising the portfolio's ROI ratio itself would buy one cheap candidate
and leave the budget unspent, which no brand wants.)

Portfolio totals come with intervals that treat candidates as independent: the
half-widths add in quadrature. That is narrower than adding the bounds (which
assumes every candidate misses in the same direction) and an approximation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from training.budget import greedy_select

__all__ = ["RESOLUTION", "follower_portfolio", "knapsack", "portfolio_total"]

RESOLUTION = 2000

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


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


def knapsack(values: npt.ArrayLike, costs: npt.ArrayLike, budget: float) -> Mask:
    """The subset with the largest summed value whose summed cost is at most `budget`.

    Values <= 0 are never chosen. Returns a boolean mask. Two dynamic programmes run
    on costs in units of 1/2000 of the budget, one rounding costs up (its answer
    always fits) and one rounding to the nearest unit (finds sets that fill the
    budget exactly; kept only if its exact cost fits); the greedy choice by value
    per unit cost is the third candidate. The best that fits wins.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(costs, dtype=float)
    usable = (v > 0) & (c <= budget) & np.isfinite(v) & np.isfinite(c)
    ratio = np.where(usable, v / np.maximum(c, 1e-12), -np.inf)
    options = [greedy_select(np.where(usable, c, np.inf), ratio, budget) & usable]
    if budget > 0 and usable.any():
        scaled = c / budget * RESOLUTION
        options.append(_dp(v, np.ceil(scaled).astype(np.int64), usable))
        options.append(_dp(v, np.rint(scaled).astype(np.int64), usable))
    fits = [m for m in options if c[m].sum() <= budget]
    return max(fits, key=lambda m: float(v[m].sum()))


def follower_portfolio(followers: npt.ArrayLike, costs: npt.ArrayLike, budget: float) -> Mask:
    """What the follower-count rule buys: biggest accounts first while the budget lasts."""
    f = np.nan_to_num(np.asarray(followers, dtype=float), nan=-1.0)
    return greedy_select(costs, f, budget)


def portfolio_total(
    expected: Floats, low: Floats, high: Floats, mask: Mask
) -> tuple[float, float, float]:
    """Summed expected value of the chosen rows, with an approximate interval."""
    e, lo, hi = expected[mask], low[mask], high[mask]
    total = float(e.sum())
    down = float(np.sqrt(((e - lo) ** 2).sum()))
    up = float(np.sqrt(((hi - e) ** 2).sum()))
    return total, max(total - down, 0.0), total + up
