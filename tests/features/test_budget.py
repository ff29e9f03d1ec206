"""The budget rules: greedy selection, the follower rule, spending per campaign, and the
knapsack against brute force on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from features.budget import (
    OBJECTIVE_TARGETS,
    _fix,
    follower_portfolio,
    greedy_select,
    knapsack,
    objective_values,
    portfolio_roi,
    portfolio_total,
    spend_per_campaign,
    value_per_cost,
)
from features.simulate_experiment import EXPERIMENT_ARMS, experiment_keeps


def brute_force(values: np.ndarray, costs: np.ndarray, budget: float) -> float:
    best = 0.0
    for r in range(len(values) + 1):
        for combo in itertools.combinations(range(len(values)), r):
            idx = list(combo)
            if costs[idx].sum() <= budget:
                best = max(best, float(values[idx].sum()))
    return best


def test_fills_the_budget_exactly_when_that_is_best() -> None:
    chosen = knapsack([7.0, 7.91, 8.21], [600.0, 1000.0, 500.0], 1500.0)
    assert chosen.tolist() == [False, True, True]


def test_within_budget_and_near_optimal_on_random_instances() -> None:
    rng = np.random.default_rng(1)
    gaps = []
    for _ in range(300):
        n = int(rng.integers(1, 10))
        values = rng.gamma(1.0, 10.0, n) * (rng.random(n) > 0.1)
        costs = np.round(rng.uniform(50, 1000, n), 2)
        budget = float(np.round(rng.uniform(0.1, 1.0) * costs.sum(), 2))
        chosen = knapsack(values, costs, budget)
        assert costs[chosen].sum() <= budget
        best = brute_force(values, costs, budget)
        gaps.append(0.0 if best == 0 else 1 - values[chosen].sum() / best)
    assert max(gaps) < 0.02, max(gaps)
    assert np.mean(gaps) < 0.001


def test_one_rule_keeps_sums_that_fit_exactly_in_selection_and_in_the_simulator() -> None:
    """0.1 + 0.2 is 0.30000000000000004 in floating point: both still fit a budget of 0.3.

    The simulator's experiment mode once kept a copy that compared a shrinking remainder
    and kept only the first; it now calls the same rule, so both arms keep both here.
    """
    assert greedy_select([0.1, 0.2], [2.0, 1.0], 0.3).tolist() == [True, True]
    # 30% of a shortlist costing 1.0 in all is a budget of 0.3 (exactly, in floats).
    cost = np.array([0.1, 0.2, 0.7])
    for arm in EXPERIMENT_ARMS:
        kept = experiment_keeps(
            arm, cost, followers=np.array([900.0, 800.0, 10.0]), expected_clicks=cost[::-1]
        )
        assert kept.tolist() == [True, True, False], arm


def test_follower_rule_buys_biggest_first_and_unknown_counts_last() -> None:
    assert follower_portfolio([10, 1000, 100], [5.0, 8.0, 5.0], 13.0).tolist() == [
        False,
        True,
        True,
    ]
    assert follower_portfolio([np.nan, 0.0, 5.0], [1.0, 1.0, 1.0], 2.0).tolist() == [
        False,
        True,
        True,
    ]


def test_value_per_cost_puts_a_free_candidate_first() -> None:
    assert value_per_cost([2.0, 1.0, 1.0], [4.0, 1.0, 0.0]).tolist() == pytest.approx(
        [0.5, 1.0, 1e9]
    )


def test_roi_objective_buys_net_return_and_never_a_loss() -> None:
    predictions = {"clicks": np.array([5.0, 1.0]), "revenue": np.array([30.0, 8.0])}
    cost = np.array([10.0, 10.0])
    assert OBJECTIVE_TARGETS["roi"] == "revenue"
    assert OBJECTIVE_TARGETS["clicks"] == "clicks"
    assert objective_values("clicks", predictions, cost).tolist() == [5.0, 1.0]
    net = objective_values("roi", predictions, cost)
    assert net.tolist() == [20.0, -2.0]
    assert knapsack(net, cost, 20.0).tolist() == [True, False]


def test_portfolio_totals_add_half_widths_in_quadrature() -> None:
    mask = np.array([True, True, False])
    expected, low, high = np.array([3.0, 4.0, 9.0]), np.array([0.0, 0.0, 0.0]), np.full(3, 10.0)
    total, lo, hi = portfolio_total(expected, low, high, mask)
    assert (total, lo, hi) == (7.0, 2.0, 7.0 + float(np.hypot(7.0, 6.0)))
    assert portfolio_roi(30.0, 20.0) == 0.5
    assert portfolio_roi(0.0, 0.0) is None


def test_spend_per_campaign_spends_each_campaigns_share_in_placement_order() -> None:
    frame = pd.DataFrame(
        {
            "campaign_id": ["c1", "c1", "c1", "c2", "c2"],
            "placement_id": ["p3", "p1", "p2", "p5", "p4"],
            "cost": [1.0, 1.0, 2.0, 3.0, 1.0],
            "priority": [1.0, 1.0, 5.0, 2.0, 1.0],
        },
        index=[10, 11, 12, 13, 14],
    )
    chosen = spend_per_campaign(frame, "priority", share=0.5)
    # c1 spends 2 of 4: p2 (priority 5) fits alone, the tie p1/p3 cannot join it.
    # c2 spends 2 of 4: p5 costs 3 and is skipped, p4 fits.
    assert chosen.to_dict() == {10: False, 11: False, 12: True, 13: False, 14: True}
    assert chosen.index.equals(frame.index)
    tie = frame.assign(priority=1.0, cost=1.0)
    # Ties go in placement id order, whatever the row order: p1 of c1 (not p3), p4 of c2.
    assert tie[spend_per_campaign(tie, "priority", share=0.5)]["placement_id"].tolist() == [
        "p1",
        "p4",
    ]


def best_subset(values: np.ndarray, costs: np.ndarray, budget: float) -> tuple[float, set[int]]:
    best, chosen = 0.0, set()
    for r in range(1, len(values) + 1):
        for combo in itertools.combinations(range(len(values)), r):
            idx = list(combo)
            if costs[idx].sum() <= budget and values[idx].sum() > best:
                best, chosen = float(values[idx].sum()), set(idx)
    return best, chosen


def test_reduction_never_fixes_an_item_against_every_better_choice() -> None:
    rng = np.random.default_rng(2)
    fixed = 0
    for _ in range(300):
        n = int(rng.integers(2, 12))
        values = rng.gamma(1.0, 10.0, n)
        costs = np.round(rng.uniform(50, 1000, n), 2)
        budget = float(np.round(rng.uniform(0.1, 0.9) * costs.sum(), 2))
        usable = costs <= budget
        greedy = greedy_select(np.where(usable, costs, np.inf), values / costs, budget) & usable
        lower = float(values[greedy].sum())
        take, leave = _fix(values, costs, usable, budget, lower)
        best, chosen = best_subset(values, costs, budget)
        fixed += int(take.sum() + leave.sum())
        if best > lower * (1 + 1e-9):  # the optimum beats greedy, so it obeys every fixing
            assert set(np.flatnonzero(take)) <= chosen
            assert not set(np.flatnonzero(leave)) & chosen
    assert fixed > 300  # the reduction does fix items, so the check above has teeth


def exact(values: np.ndarray, costs: np.ndarray, budget: int) -> float:
    """Exact 0/1 knapsack by dynamic programming over integer costs."""
    best = np.zeros(budget + 1)
    for v, c in zip(values, costs, strict=True):
        if c <= budget:
            best[c:] = np.maximum(best[c:], best[: budget + 1 - c] + v)
    return float(best[budget])


def test_near_optimal_on_a_thousand_candidates() -> None:
    """Costs rounded to 1/2000 of the budget left can miss the optimum by a sliver:
    measured at most 0.013% on these instances; 0.05% allowed."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        values = rng.gamma(1.0, 10.0, 1000)
        costs = rng.integers(20, 2000, 1000)
        budget = int(0.2 * costs.sum())
        chosen = knapsack(values, costs.astype(float), float(budget))
        assert costs[chosen].sum() <= budget
        assert values[chosen].sum() >= exact(values, costs, budget) * (1 - 5e-4)
        greedy = greedy_select(costs.astype(float), values / costs, float(budget))
        assert values[chosen].sum() >= values[greedy].sum()
