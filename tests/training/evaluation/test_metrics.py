"""Rank metrics and their campaign-bootstrap intervals (training/evaluation/metrics.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from training.evaluation.metrics import (
    BOOTSTRAP_RESAMPLES,
    RANK_RESAMPLES,
    evaluate_target,
    partial_spearman,
    percentile_interval,
    spearman,
)


def test_spearman_is_scipy_s_with_ties_and_nan_when_constant() -> None:
    a = [1.0, 2.0, 2.0, 5.0, 3.0, 0.0]
    b = [0.0, 1.0, 3.0, 3.0, 2.0, 1.0]
    assert spearman(a, b) == pytest.approx(float(spearmanr(a, b).statistic), abs=1e-15)
    assert math.isnan(spearman([4.0] * 6, b))


def test_a_prediction_that_is_followers_knows_nothing_beyond_them() -> None:
    rng = np.random.default_rng(1)
    followers = rng.gamma(2.0, 1.0, 200)
    y = followers + rng.normal(0.0, 1.0, 200)
    assert spearman(followers, y) > 0.5
    assert partial_spearman(followers, y, followers) == 0.0
    assert partial_spearman(y, y, followers) > 0.5


def test_rank_intervals_are_the_statistic_on_each_resample_of_whole_campaigns() -> None:
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame(
        {
            "placement_id": np.arange(n),
            "campaign_id": rng.choice(["c1", "c2", "c3", "c4", "c5"], n),
            "cost": rng.uniform(1.0, 9.0, n),
            "followers": rng.integers(10, 10_000, n),
        }
    )
    frame["clicks"] = rng.poisson(3.0, n).astype(float)
    pred = frame["clicks"].to_numpy() + rng.normal(0.0, 2.0, n)
    predictions = {"model": pred, "followers": np.log1p(frame["followers"].to_numpy(float))}
    got = evaluate_target("clicks", frame, predictions, power=1.0, seed=11)

    # The definition, computed the slow way: the same draws of campaigns, each resample's
    # placements concatenated campaign by campaign, the public statistic on each.
    campaigns, codes = np.unique(frame["campaign_id"].to_numpy(), return_inverse=True)
    draws = np.random.default_rng(11).integers(0, campaigns.size, (BOOTSTRAP_RESAMPLES, 5))
    groups = [np.flatnonzero(codes == c) for c in range(campaigns.size)]
    resamples = [np.concatenate([groups[c] for c in d]) for d in draws[:RANK_RESAMPLES]]
    y = frame["clicks"].to_numpy()
    z = np.log1p(frame["followers"].to_numpy(float))
    model = got.table[got.table["policy"] == "model"].set_index("metric")
    by_hand = {
        "spearman": [spearman(pred[i], y[i]) for i in resamples],
        "partial_spearman": [partial_spearman(pred[i], y[i], z[i]) for i in resamples],
    }
    for metric, samples in by_hand.items():
        low, high = percentile_interval(np.array(samples))
        assert (model.at[metric, "low"], model.at[metric, "high"]) == (low, high)
        assert low < got.value("model", metric) < high
    # The followers policy ranks exactly as followers do: nothing beyond them, in every
    # resample, not a rounding error's worth either way.
    followers = got.table[got.table["policy"] == "followers"].set_index("metric")
    assert followers.loc["partial_spearman", ["value", "low", "high"]].tolist() == [0.0] * 3
