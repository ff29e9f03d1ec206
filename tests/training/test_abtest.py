"""Live-experiment analysis: per-campaign ratios, Welch and bootstrap intervals, SRM, planning,
assignment, the Hillstrom e-mail experiment and the `influence abtest` command."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from features.simulate import World, write_world
from training.abtest import (
    ExperimentResult,
    analyse_experiment,
    assign_arm,
    baseline,
    choose_control,
    sample_ratio,
    sample_size,
    unit_ratios,
    welch,
)
from training.errors import TrainingError
from training.experiments.hillstrom import CONTROL, OUTCOMES, UNIT, read_hillstrom

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture

HILLSTROM = Path(__file__).resolve().parents[3] / "shared" / "data" / "hillstrom" / "hillstrom.csv"


def frame(rows: Sequence[tuple[str, str | None, float, float]]) -> pd.DataFrame:
    """Placements as (campaign_id, arm, cost, clicks); NaN clicks is a planned placement."""
    return pd.DataFrame(rows, columns=["campaign_id", "arm", "cost", "clicks"])


# followers: campaign ratios 1, 2, 3; model: 2, 4, 6, 8 clicks per unit cost.
HAND = frame(
    [
        ("f1", "followers", 10.0, 10.0),
        ("f2", "followers", 10.0, 20.0),
        ("f3", "followers", 5.0, 5.0),
        ("f3", "followers", 15.0, 55.0),
        ("m1", "model", 10.0, 20.0),
        ("m2", "model", 10.0, 40.0),
        ("m3", "model", 10.0, 60.0),
        ("m4", "model", 10.0, 80.0),
        ("m4", "model", 10.0, math.nan),  # planned: left out, counted
        ("x1", None, 10.0, 99.0),  # not in the experiment: left out, counted
    ]
)


def test_campaign_ratio_is_summed_outcomes_over_summed_cost() -> None:
    ratios = unit_ratios(HAND.dropna(), "campaign_id", ["clicks"])
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


def test_analyse_hand_experiment() -> None:
    result = analyse_experiment(HAND, outcomes=("clicks",))
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


def test_sample_size_against_hand_values() -> None:
    # 2 (1.959964 + 0.841621)^2 / 0.2^2 = 392.44: the textbook 393 per arm for d = 0.2.
    assert sample_size(0.2, 1.0, 1.0) == 393
    # 2 (1.959964 + 1.281552)^2 (0.04 / 0.005)^2 = 1344.95.
    assert sample_size(0.1, 0.05, 0.04, alpha=0.05, power=0.9) == 1345
    with pytest.raises(TrainingError, match=r"^The lift and the baseline mean must be non-zero "):
        sample_size(0.0, 1.0, 1.0)


def test_baseline_from_past_campaigns() -> None:
    assert baseline(HAND[HAND["arm"] == "followers"], "clicks") == (2.0, 1.0, 3)


def test_assignment_is_a_salted_hash_and_roughly_balanced() -> None:
    expected = ["model", "followers"][int(hashlib.sha256(b"s1c0042").hexdigest(), 16) % 2]
    assert assign_arm("c0042", ["model", "followers"], "s1") == expected
    ids = [f"c{i:05d}" for i in range(10_000)]
    first = [assign_arm(c, ["model", "followers"], "s1") for c in ids]
    assert first == [assign_arm(c, ["model", "followers"], "s1") for c in ids]
    assert 4_800 <= first.count("model") <= 5_200
    other = [assign_arm(c, ["model", "followers"], "s2") for c in ids]
    assert 4_500 <= sum(a != b for a, b in zip(first, other, strict=True)) <= 5_500
    three = pd.Series([assign_arm(c, ["a", "b", "c"], "s1") for c in ids]).value_counts()
    assert three.between(3_133, 3_533).all()
    with pytest.raises(TrainingError, match=r"^Give at least two distinct, non-empty arm names; "):
        assign_arm("c1", ["model", "model"], "s1")


@pytest.fixture(scope="module")
def hillstrom() -> ExperimentResult:
    if not HILLSTROM.is_file():
        pytest.skip(f"{HILLSTROM} is absent")
    return analyse_experiment(
        read_hillstrom(HILLSTROM), unit=UNIT, outcomes=OUTCOMES, control=CONTROL
    )


def test_hillstrom_reproduces_the_published_arm_means(hillstrom: ExperimentResult) -> None:
    means = {m.metric: {a.arm: a.mean for a in m.arms} for m in hillstrom.metrics}
    published = {
        "visit": (0.1828, 0.1514, 0.1062, 1e-4),
        "conversion": (0.0125, 0.0088, 0.0057, 1e-4),
        "spend": (1.42, 1.08, 0.65, 0.005),
    }
    for metric, (mens, womens, none, tol) in published.items():
        assert means[metric] == {
            "Mens E-Mail": pytest.approx(mens, abs=tol),
            "No E-Mail": pytest.approx(none, abs=tol),
            "Womens E-Mail": pytest.approx(womens, abs=tol),
        }
    counts = {"Mens E-Mail": 21_307, "No E-Mail": 21_306, "Womens E-Mail": 21_387}
    assert hillstrom.sample_ratio.counts == counts
    assert not hillstrom.sample_ratio.mismatch


def test_hillstrom_both_e_mails_lift_visits(hillstrom: ExperimentResult) -> None:
    visit = next(m for m in hillstrom.metrics if m.metric == "visit")
    lifts = {d.arm: d for d in visit.differences}
    assert sorted(lifts) == ["Mens E-Mail", "Womens E-Mail"]
    for d in lifts.values():
        assert d.p_value < 1e-6
        assert d.welch_low > 0
        assert d.bootstrap_low > 0
    assert lifts["Mens E-Mail"].lift == pytest.approx(0.721, abs=1e-3)
    assert lifts["Womens E-Mail"].lift == pytest.approx(0.426, abs=1e-3)


def test_hillstrom_adapter_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "hillstrom.csv"
    path.write_text("segment,visit\nNo E-Mail,0\n")
    with pytest.raises(TrainingError, match=r"^hillstrom\.csv lacks ") as caught:
        read_hillstrom(path)
    assert str(caught.value) == (
        "hillstrom.csv lacks the columns conversion, spend; expected the MineThatData columns "
        "segment, visit, conversion, spend."
    )


@pytest.fixture
def experiment_dir(tmp_path: Path, small_world: World) -> Path:
    """The small world with its campaigns split between model and followers, two planned."""
    placements = small_world.placements.copy()
    order = sorted(placements["campaign_id"].unique())
    placements["arm"] = placements["campaign_id"].map(
        {c: "model" if i % 2 else "followers" for i, c in enumerate(order)}
    )
    outcomes = ["clicks", "referrals", "conversions", "revenue"]
    placements[outcomes] = placements[outcomes].astype("float64")
    placements.loc[[0, 1], outcomes] = math.nan
    out = tmp_path / "experiment"
    write_world(dataclasses.replace(small_world, placements=placements), out)
    return out


def test_cli_abtest_analyses_a_data_directory(
    influence_cli: Cli, experiment_dir: Path, tmp_path: Path
) -> None:
    result_file = tmp_path / "out" / "abtest.json"
    done = influence_cli("abtest", experiment_dir, "--out", result_file)
    assert done.returncode == 0, done.stderr
    assert "clicks per unit cost, by campaign" in done.stdout
    assert "Welch 95% CI" in done.stdout
    assert (
        "Sample ratio: campaigns per arm followers 3, model 3 against a planned 1:1 split "
        "(p = 1.0000): no mismatch." in done.stdout
    )
    assert "Skipped 2 planned placements (empty outcomes)." in done.stdout
    assert sorted(p.name for p in result_file.parent.iterdir()) == ["abtest.json"]

    report = json.loads(result_file.read_text())
    placements = pd.read_parquet(experiment_dir / "placements.parquet").iloc[2:]
    sums = placements.groupby("campaign_id")[["cost", "clicks"]].sum()
    per_campaign = (sums["clicks"] / sums["cost"]).groupby(
        placements.groupby("campaign_id")["arm"].first()
    )
    clicks = report["metrics"][0]
    assert (report["control"], clicks["metric"]) == ("followers", "clicks")
    assert {a["arm"]: a["mean"] for a in clicks["arms"]} == {
        arm: pytest.approx(float(values.mean()), rel=1e-12) for arm, values in per_campaign
    }
    ref = stats.ttest_ind(
        per_campaign.get_group("model"), per_campaign.get_group("followers"), equal_var=False
    )
    assert clicks["differences"][0]["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)

    same = influence_cli("abtest", "analyse", experiment_dir, "--out", tmp_path / "again.json")
    assert same.returncode == 0, same.stderr
    assert json.loads((tmp_path / "again.json").read_text()) == report


def test_cli_abtest_plan_and_assign(influence_cli: Cli) -> None:
    planned = influence_cli(
        "abtest", "plan", "--lift", "0.2", "--baseline-mean", "1", "--baseline-sd", "1"
    )
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == (
        "To detect a +20% lift in clicks per unit cost (baseline mean 1, sd 1, given) at alpha "
        "0.05 and power 0.8: 393 campaigns per arm."
    )
    assigned = influence_cli(
        "abtest", "assign", "--salt", "s1", "--arms", "model,followers", "c1", "c2"
    )
    assert assigned.returncode == 0, assigned.stderr
    arms = ["model", "followers"]
    expected = [
        f"c{i},{arms[int(hashlib.sha256(f's1c{i}'.encode()).hexdigest(), 16) % 2]}" for i in (1, 2)
    ]
    assert assigned.stdout.splitlines() == ["campaign_id,arm", *expected]


def test_cli_abtest_without_arms_is_one_sentence(influence_cli: Cli, small_csv_dir: Path) -> None:
    done = influence_cli("abtest", small_csv_dir)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: placements have no `arm` column values: an experiment needs the arm (selection "
        "policy, for example model or followers) that chose each placement."
    )
