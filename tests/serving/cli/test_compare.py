"""`influence compare` in-process: its options reach the backtest, its tables fit 80 columns."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from serving.cli import app


def test_compare_prints_every_policy_s_numbers_within_80_columns(
    trainable_world: Path, workspace: Path, fits: Callable[..., None]
) -> None:
    report = workspace / "report"
    done = CliRunner().invoke(
        app,
        [
            *("compare", str(trainable_world), "--out", str(report), "--folds", "2"),
            *("--targets", "conversions,clicks", "--budget-share", "0.25", "--seed", "2"),
        ],
        env={"COLUMNS": "80"},
    )
    assert done.exit_code == 0, done.output
    where, *progress = done.stderr.splitlines()
    assert where == (
        f"Workspace {workspace}, project influence (the default): models in "
        f"{workspace / 'models'}, runs in sqlite:///{workspace / 'mlflow.db'}."
    )
    assert progress[:2] == ["Backtesting ...", "Backtesting: validating the data ..."]
    assert [re.sub(r"as of \S+", "as of DATE", line) for line in progress[2:4]] == [
        "Backtesting: fold 1 of 2: refitting as of DATE ...",
        "Backtesting: fold 2 of 2: refitting as of DATE ...",
    ]
    assert progress[4:] == [
        "Backtesting: spending every policy's budget on the held-out campaigns ...",
        "Backtesting: writing the report and logging it to MLflow ...",
    ]
    fits(done.stdout)
    config = json.loads((report / "report.json").read_text())["config"]
    assert (config["folds"], config["budget_share"], config["seed"]) == (2, 0.25, 2)
    assert config["targets"] == ["conversions", "clicks"]

    # Every policy's rate and difference from the report, whole, in the printed tables.
    table = pd.read_csv(report / "report.csv")
    table = table[(table["tier"] == "all") & (table["policy"] != "candidates")]
    shown = done.stdout.split()
    metrics = ("actions_per_cost", "cost_per_action", "times_follower_rule")
    for metric, spec in ((m, ".3g") for m in metrics):
        rows = table[table["metric"] == metric].dropna(subset=["value"])
        assert len(rows) >= 2 * 5
        for row in rows.itertuples():
            value, low, high = (format(x, spec) for x in (row.value, row.low, row.high))
            assert value in shown, (row.target, row.policy, metric)
            assert f"[{low}, {high}]" in done.stdout, (row.target, row.policy, metric)
    text = " ".join(shown)
    assert f"Report: {report / 'report.html'}" in text
    assert " in experiment influence-compare; " in text
    assert {p.name for p in report.iterdir()} == {"report.html", "report.json", "report.csv"}
    assert "clicks per unit cost on 10 held-out campaigns (2 rolling origins)" in text
    assert "follower rule (biggest first)" in done.stdout
    model = table[(table["policy"] == "model") & (table["metric"] == "times_follower_rule")]
    for row in model.itertuples():
        assert (
            f"The model bought {row.value:.3g} times the {row.target} per unit cost of the "
            f"follower-count rule (95% interval {row.low:.3g} to {row.high:.3g})."
        ) in text
