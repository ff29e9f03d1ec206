"""Split-conformal intervals: the order statistics and the coverage they promise."""

from __future__ import annotations

import numpy as np

from training.learners.intervals import calibrate


def test_bounds_are_the_conformal_order_statistics() -> None:
    residuals = np.arange(1.0, 101.0)  # y - pred with pred = 0 and power 0: residual = y
    interval = calibrate(residuals, np.zeros(100), power=0.0, level=0.9)
    # n = 100, a = 0.05: the ceil(0.95 * 101) = 96th and floor(0.05 * 101) = 5th residuals.
    assert interval.high == 96.0
    assert interval.low == 5.0


def test_fresh_draws_are_covered_at_about_the_nominal_level() -> None:
    rng = np.random.default_rng(0)
    pred = rng.gamma(2.0, 5.0, 4000)
    y = rng.poisson(pred)
    interval = calibrate(y[:2000], pred[:2000], power=1.0, level=0.9)
    assert 0.88 <= interval.coverage(y[2000:], pred[2000:]) <= 0.95
