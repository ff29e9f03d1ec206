"""The analysis of a live experiment: per-unit ratios, arms against the control, the bootstrap."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from training.errors import TrainingError
from training.experiments.analysis import analyse_experiment, choose_control, unit_ratios


def frame(rows: Sequence[tuple[str, str | None, float, float]]) -> pd.DataFrame:
    """Placements as (campaign_id, arm, cost, clicks); NaN clicks is a planned placement."""
    return pd.DataFrame(rows, columns=["campaign_id", "arm", "cost", "clicks"])


def test_campaign_ratio_is_summed_outcomes_over_summed_cost(hand: pd.DataFrame) -> None:
    ratios = unit_ratios(hand.dropna(), "campaign_id", ["clicks"])
    # f3: (5 + 55) / (5 + 15) = 3, not the mean of its placements' ratios (1 + 3.67) / 2.
    assert ratios["clicks"].to_dict() == {
        "f1": 1.0,
        "f2": 2.0,
        "f3": 3.0,
        "m1": 2.0,
        "m2": 4.0,
        "m3": 6.0,
        "m4": 8.0,
    }
    assert ratios.loc["m4", "arm"] == "model"


def test_analyse_hand_experiment(hand: pd.DataFrame) -> None:
    result = analyse_experiment(hand, outcomes=("clicks",))
    assert (result.control, result.planned_skipped, result.unassigned_skipped) == (
        "followers",
        1,
        1,
    )
    (clicks,) = result.metrics
    assert [(a.arm, a.units, a.mean, a.sd) for a in clicks.arms] == [
        ("followers", 3, 2.0, 1.0),
        ("model", 4, 5.0, pytest.approx(math.sqrt(20 / 3), rel=1e-12)),
    ]
    (d,) = clicks.differences
    ref = stats.ttest_ind([2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0], equal_var=False)
    assert (d.arm, d.difference, d.lift) == ("model", 3.0, 1.5)
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert d.bootstrap_low < 3.0 < d.bootstrap_high
    rows = clicks.rows()
    assert rows[0] == ("followers", "3", "2", "control", "", "", "", "")
    assert rows[1][:5] == ("model", "4", "5", "+3", "[-0.898, 6.898]")
    assert rows[1][6:] == (f"{ref.pvalue:.4f}", "+150.0%")


def test_bootstrap_is_seeded_and_agrees_with_scipy() -> None:
    rng = np.random.default_rng(42)
    control, treated = rng.normal(1.0, 1.0, 200), rng.normal(1.3, 2.0, 150)
    customers = pd.DataFrame(
        {
            "customer": [f"u{i}" for i in range(350)],
            "arm": ["a"] * 200 + ["b"] * 150,
            "cost": 1.0,
            "y": np.concatenate([control, treated]),
        }
    )

    def interval(seed: int) -> tuple[float, float]:
        res = analyse_experiment(customers, unit="customer", outcomes=("y",), seed=seed)
        d = res.metrics[0].differences[0]
        return d.bootstrap_low, d.bootstrap_high

    assert interval(0) == interval(0)
    assert interval(0) != interval(1)
    ref = stats.bootstrap(
        (treated, control),
        lambda b, a, axis: b.mean(axis=axis) - a.mean(axis=axis),
        method="percentile",
        n_resamples=20_000,
        rng=np.random.default_rng(7),
    ).confidence_interval
    # Two Monte Carlo estimates of the same percentiles: their sd is about 0.015 here.
    assert list(interval(0)) == pytest.approx([ref.low, ref.high], abs=0.06)


def test_bootstrap_of_constant_arms_is_the_difference() -> None:
    flat = frame([("a1", "a", 1, 1), ("a2", "a", 1, 1), ("b1", "b", 1, 3), ("b2", "b", 1, 3)])
    d = analyse_experiment(flat, outcomes=("clicks",)).metrics[0].differences[0]
    assert (d.bootstrap_low, d.bootstrap_high, d.difference) == (2.0, 2.0, 2.0)
    assert math.isnan(d.p_value)


def test_analysis_flags_a_lopsided_experiment() -> None:
    rows = [(f"u{i}", "model" if i < 600 else "followers", 1.0, float(i % 3)) for i in range(1000)]
    result = analyse_experiment(frame(rows), outcomes=("clicks",), resamples=50)
    assert result.sample_ratio.counts == {"followers": 400, "model": 600}
    assert result.sample_ratio.mismatch
    assert result.to_dict()["sample_ratio_mismatch"] is True


def test_control_is_followers_else_first_by_name() -> None:
    assert choose_control(["model", "followers"]) == "followers"
    assert choose_control(["Womens", "No E-Mail", "Mens"]) == "Mens"
    assert choose_control(["model", "followers"], "model") == "model"
    with pytest.raises(TrainingError, match=r"^The control arm 'x' is not among the arms: a, b\.$"):
        choose_control(["b", "a"], "x")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [("c1", None, 1.0, 1.0)],
            "placements have no `arm` column values: an experiment needs the arm (selection "
            "policy, for example model or followers) that chose each placement.",
        ),
        (
            [("c1", "model", 1.0, 1.0), ("c1", "followers", 1.0, 1.0)],
            "1 campaign_id values are in more than one arm (c1); the campaign_id is the unit of "
            "randomisation, so all its placements must share one arm.",
        ),
        (
            [("c1", "model", 1.0, 1.0), ("c2", "model", 1.0, 1.0), ("c2", "followers", 1.0, None)],
            "1 campaign_id values are in more than one arm (c2); the campaign_id is the unit of "
            "randomisation, so all its placements must share one arm.",
        ),
        (
            [("c1", "model", 0.0, 1.0), ("c2", "followers", 1.0, 1.0)],
            "1 campaign_id values have a total cost of 0 (c1), so they have no actions per unit "
            "cost; drop them or record what they cost.",
        ),
        (
            [("c1", "model", 1.0, 1.0), ("c2", "model", 1.0, 1.0)],
            "An experiment needs at least two arms with outcomes; found only model.",
        ),
        (
            [("c1", "model", 1.0, math.nan), ("c2", "followers", 1.0, math.nan)],
            "None of the 2 placements with an arm has outcomes yet; analyse the experiment once "
            "they are measured.",
        ),
    ],
)
def test_experiments_that_cannot_be_analysed(
    rows: list[tuple[str, str | None, float, float]], message: str
) -> None:
    with pytest.raises(TrainingError, match=f"^{re.escape(message)}$"):
        analyse_experiment(frame(rows), outcomes=("clicks",))
