"""`influence abtest` in-process: the analysis (within 80 columns), the plan, the assignment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from features.simulate import World, write_world
from serving.cli import app


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
    experiment_dir: Path, tmp_path: Path, fits: Callable[..., None]
) -> None:
    result_file = tmp_path / "out" / "abtest.json"
    runner = CliRunner()
    done = runner.invoke(
        app, ["abtest", str(experiment_dir), "--out", str(result_file)], env={"COLUMNS": "80"}
    )
    assert done.exit_code == 0, done.output
    fits(done.stdout)
    text = " ".join(done.stdout.split())
    assert "clicks per unit cost, by campaign" in text
    assert "Welch 95% CI" in text
    assert (
        "Sample ratio: campaigns per arm followers 3, model 3 against a planned 1:1 split "
        "(p = 1.0000): no mismatch." in text
    )
    assert "Skipped 2 planned placements (empty outcomes)." in text
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

    # Every number of the JSON's model arm, whole, in the printed table.
    model = next(a for a in clicks["arms"] if a["arm"] == "model")
    difference = clicks["differences"][0]
    assert f"{model['mean']:.4g}" in done.stdout.split()
    assert f"[{difference['welch_low']:.4g}, {difference['welch_high']:.4g}]" in done.stdout

    again = tmp_path / "again.json"
    same = runner.invoke(app, ["abtest", "analyse", str(experiment_dir), "--out", str(again)])
    assert same.exit_code == 0, same.output
    assert json.loads(again.read_text()) == report


def test_cli_abtest_plan_and_assign() -> None:
    runner = CliRunner()
    planned = runner.invoke(
        app, ["abtest", "plan", "--lift", "0.2", "--baseline-mean", "1", "--baseline-sd", "1"]
    )
    assert planned.exit_code == 0, planned.output
    assert " ".join(planned.stdout.split()) == (
        "To detect a +20% lift in clicks per unit cost (baseline mean 1, sd 1, given) at alpha "
        "0.05 and power 0.8: 393 campaigns per arm."
    )
    assigned = runner.invoke(
        app, ["abtest", "assign", "--salt", "s1", "--arms", "model,followers", "c1", "c2"]
    )
    assert assigned.exit_code == 0, assigned.output
    arms = ["model", "followers"]
    expected = [
        f"c{i},{arms[int(hashlib.sha256(f's1c{i}'.encode()).hexdigest(), 16) % 2]}" for i in (1, 2)
    ]
    assert assigned.stdout.splitlines() == ["campaign_id,arm", *expected]


def test_cli_abtest_without_arms_is_one_sentence(small_csv_dir: Path) -> None:
    done = CliRunner().invoke(app, ["abtest", str(small_csv_dir)])
    assert done.exit_code == 1
    assert done.stderr.strip() == (
        f"Reading {small_csv_dir} ...\n"
        "Analysing 60 placements ...\n"
        "error: placements have no `arm` column values: an experiment needs the arm (selection "
        "policy, for example model or followers) that chose each placement."
    )
