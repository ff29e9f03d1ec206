"""The portfolio choice against brute force on small instances."""

from __future__ import annotations

import itertools

import numpy as np

from serving.ranking import follower_portfolio, knapsack
from training.budget import greedy_select


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


def test_greedy_keeps_sums_that_fit_exactly_and_follower_rule_buys_biggest_first() -> None:
    assert greedy_select([0.1, 0.2], [2.0, 1.0], 0.3).tolist() == [True, True]
    assert follower_portfolio([10, 1000, 100], [5.0, 8.0, 5.0], 13.0).tolist() == [
        False,
        True,
        True,
    ]
