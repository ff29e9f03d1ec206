"""The price model on feature rows priced as the simulator prices: a fee plus a rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.builder import FEATURES
from training.evaluation.price import evaluate_price
from training.learners.price import MIN_PRICED, fit_price


def _rows(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Feature rows with heavy-tailed followers, and costs of 50 plus 0.01 per follower,
    times lognormal(0, 0.25): `features.simulate`'s pricing."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=list(FEATURES))
    table["reach_followers"] = np.round(np.exp(rng.normal(9.0, 1.5, n)))
    cost = 50.0 + 0.01 * table["reach_followers"] * rng.lognormal(0.0, 0.25, n)
    return table, pd.Series(np.round(cost, 2))


def test_it_learns_the_fee_a_follower_rate_misses() -> None:
    table, cost = _rows(1200, seed=1)
    cost[:100] = 0.0  # gifted placements: no price to learn from
    stop = np.arange(len(cost)) >= 1000
    model = fit_price(table, cost, ~stop, stop, seed=0)
    assert model is not None
    later, paid = _rows(600, seed=2)
    x = later[list(FEATURES)].to_numpy()
    campaign = np.array([f"c{i % 6}" for i in range(len(paid))], dtype=object)
    judged = evaluate_price(model, x, paid.to_numpy(), campaign)
    assert judged.placements == 600
    assert judged.mdape < 0.17 < judged.mdape_follower_rate, judged
    assert 0.8 <= judged.coverage <= 0.97, judged
    estimate, low, high = model.estimate(x)
    assert (low < estimate).all()
    assert (estimate < high).all()
    # Zero costs were left out: the rate is the paid placements' median cost per follower.
    rate = np.median(cost[100:] / table["reach_followers"][100:])
    assert model.follower_rate == float(rate)


def test_too_few_paid_placements_fit_no_price_model() -> None:
    table, cost = _rows(MIN_PRICED + 20, seed=3)
    cost[:30] = 0.0
    stop = np.arange(len(cost)) >= MIN_PRICED
    assert fit_price(table, cost, ~stop, stop, seed=0) is None
