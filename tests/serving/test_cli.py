"""The `influence` command line, run as a real process: exit codes and plain messages."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from features.simulate import World, write_world

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture


def test_simulate_then_validate_then_break_four_rules(influence_cli: Cli, tmp_path: Path) -> None:
    world = tmp_path / "W"
    done = influence_cli("simulate", "--out", world, "--accounts", "2000", "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout
    checked = influence_cli("validate", world)
    assert checked.returncode == 0, checked.stderr
    assert f"{world} is valid." in checked.stdout

    broken = tmp_path / "broken"
    shutil.copytree(world, broken)
    posts = pd.read_parquet(broken / "posts.parquet")
    posts["likes"] = posts["likes"].astype("int64")
    posts.loc[3, "likes"] = -5
    posts["posted_at"] = posts["posted_at"].astype(str)
    posts.loc[8, "posted_at"] = "31/02/2025"
    posts.to_parquet(broken / "posts.parquet")
    placements = pd.read_parquet(broken / "placements.parquet")
    placements.loc[0, "account_id"] = "nobody"
    placements.drop(columns=["cost"]).to_parquet(broken / "placements.parquet")

    result = influence_cli("validate", broken)
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        "- posts.parquet, column 'posted_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row (row 9).",
        "- posts.parquet, column 'likes': negative values (expected >= 0) in 1 row (row 4).",
        "- placements.parquet, column 'cost': missing; the contract requires it.",
        "- placements.parquet, column 'account_id': ids that are not in accounts.parquet "
        "in 1 row (row 1).",
    ]
    assert "Traceback" not in result.stderr


def test_bad_option_is_one_sentence_without_traceback(influence_cli: Cli, tmp_path: Path) -> None:
    result = influence_cli("simulate", "--out", tmp_path / "w", "--days", "5")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: days must be at least 60 (histories need time), got 5."
    )


def test_missing_directory_exits_2(influence_cli: Cli, tmp_path: Path) -> None:
    result = influence_cli("validate", tmp_path / "absent")
    assert result.returncode == 2
    assert "is not a directory; give the folder holding the tables." in result.stderr


def test_every_subcommand_has_help(influence_cli: Cli) -> None:
    for command in ("validate", "simulate"):
        result = influence_cli(command, "--help")
        assert result.returncode == 0
        assert "Usage" in result.stdout


def test_a_folder_this_user_may_not_search_is_one_sentence_per_table(
    small_csv_dir: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "serving", "validate"]
    if os.geteuid() == 0:
        # Root passes every permission check; without these two capabilities it does not.
        if shutil.which("setpriv") is None:
            pytest.skip("as root, this needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
        drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        command = [*drop, *command]
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    world.chmod(0o644)  # listable, not searchable: every look-up inside it is refused
    try:
        result = subprocess.run(
            [*command, str(world)],
            capture_output=True,
            text=True,
            check=False,
            env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
        )
    finally:
        world.chmod(0o755)
    assert result.returncode == 2, result.stderr
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        f"- {name}.csv: cannot be looked up in {world}: Permission denied."
        for name in ("accounts", "posts", "campaigns", "placements")
    ]
    assert "bug in influence" not in result.stderr


def test_out_may_not_be_an_input(influence_cli: Cli, small_csv_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    before = (world / "posts.csv").read_bytes()
    planned = tmp_path / "planned.csv"
    planned.write_text("placement_id,campaign_id,account_id,posted_at,cost\n")
    for args, out in (
        (("features", world), world / "posts.csv"),
        (("features", world), world / "accounts.parquet"),
        (("predict", world, "--placements", planned), planned),
        (("predict", world, "--placements", planned), world / "placements.csv"),
    ):
        result = influence_cli(*args, "--out", out)
        assert result.returncode == 2, result.stderr
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in result.stderr
    assert (world / "posts.csv").read_bytes() == before
    assert not (world / "accounts.parquet").exists()
    assert planned.read_text() == "placement_id,campaign_id,account_id,posted_at,cost\n"


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
