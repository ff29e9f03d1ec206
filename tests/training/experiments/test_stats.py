"""The statistics of the analysis: Welch's t against scipy, and the sample-ratio check."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from training.errors import TrainingError
from training.experiments.stats import sample_ratio, welch


def test_welch_matches_the_hand_formula_and_scipy() -> None:
    treated, control = [2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0]
    diff, low, high, p = welch(treated, control)
    # se^2 = 6.667/4 + 1/3 = 2; df = 2^2 / ((5/3)^2/3 + (1/3)^2/2) = 216/53.
    half = 2.7562848743595714 * math.sqrt(2)
    assert diff == 3.0
    assert [low, high] == pytest.approx([3 - half, 3 + half], rel=1e-12)
    ref = stats.ttest_ind(treated, control, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert p == pytest.approx(ref.pvalue, rel=1e-12)
    assert [low, high] == pytest.approx([ci.low, ci.high], rel=1e-12)


def test_welch_is_undefined_for_one_unit_or_no_spread() -> None:
    assert [math.isnan(v) for v in welch([1.0], [1.0, 2.0])] == [False, True, True, True]
    assert [math.isnan(v) for v in welch([2.0, 2.0], [1.0, 1.0])] == [False, True, True, True]


def test_sample_ratio_against_equal_and_planned_splits() -> None:
    even = sample_ratio({"a": 40, "b": 30, "c": 30})
    assert even.statistic == pytest.approx(2.0, rel=1e-12)
    assert not even.mismatch
    assert even.p_value == pytest.approx(math.exp(-1), rel=1e-12)
    assert even.sentence("campaigns") == (
        "Sample ratio: campaigns per arm a 40, b 30, c 30 against a planned 1:1:1 split "
        "(p = 0.3679): no mismatch."
    )
    skewed = sample_ratio({"followers": 700, "model": 300})
    assert skewed.statistic == pytest.approx(160.0, rel=1e-12)
    assert skewed.mismatch
    assert skewed.sentence() == (
        "Sample ratio: units per arm followers 700, model 300 against a planned 1:1 split "
        "(p = < 0.0001): SAMPLE-RATIO MISMATCH. The arms did not get their planned shares, so "
        "the assignment, the logging or lost outcomes have biased them; do not trust the "
        "differences until the cause is found."
    )
    planned = sample_ratio({"followers": 700, "model": 300}, {"model": 3, "followers": 7})
    assert (planned.statistic, planned.p_value, planned.mismatch) == (0.0, 1.0, False)
    with pytest.raises(TrainingError, match=r"^The planned split must give a weight > 0 to each "):
        sample_ratio({"a": 1, "b": 2}, {"a": 1})
