"""`influence train` in-process: its options reach the run, its tables fit 80 columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from serving.cli import app

INTERVAL = re.compile(r"\[[-+]?[\d.e-]+, [-+]?[\d.e-]+\]")
LABELS = ("model", "followers baseline", "engagement heuristic", "biggest accounts first")
"""The policies of the table; the truth too, on simulated data."""


def test_train_prints_every_estimate_within_80_columns(
    trainable_world: Path, workspace: Path, fits: Callable[..., None]
) -> None:
    done = CliRunner().invoke(
        app,
        [
            *("train", str(trainable_world), "--targets", "conversions,clicks", "--seed", "1"),
            *("--budget-share", "0.25", "--window", "21", "--promote"),
        ],
        env={"COLUMNS": "80"},
    )
    assert done.exit_code == 0, done.output
    # Not a terminal: one plain line per step, as a log shows them.
    assert done.stderr.splitlines() == [
        "Training ...",
        "Training: validating the data ...",
        "Training: fitting on the earlier campaigns ...",
        "Training: boosting conversions ...",
        "Training: boosting clicks ...",
        "Training: judging it on the later campaigns ...",
        "Training: refitting on everything known ...",
        "Training: logging the run and the model to MLflow ...",
        "Training: deciding on promotion ...",
    ]
    fits(done.stdout)
    text = " ".join(done.stdout.split())  # sentences wrap at 80 columns
    for target in ("conversions", "clicks"):
        assert re.search(rf"{target} on \d+ later campaigns \(\d+ placements\)", text)
        assert f"Model / followers baseline on {target} per unit cost:" in text
    # Labels may wrap within their column: each of their words is there, whole.
    words = set(done.stdout.split())
    assert {w for label in LABELS for w in label.split()} <= words
    assert {"truth", "(simulated)"} <= words
    assert done.stdout.count("25% budget") == 2  # the budget metric's header, per target
    # Per target: 4 metrics for the model and its two baselines, the budget metric for
    # biggest first and the truth; and the model / followers ratio's interval.
    assert len(INTERVAL.findall(done.stdout)) == 2 * (3 * 4 + 2 + 1)
    assert "Version 1 promoted to champion" in text

    run_id = re.search(r"Run (\w+) registered as version 1", text)
    assert run_id is not None
    params = MlflowClient().get_run(run_id.group(1)).data.params
    assert (params["budget_share"], params["window_days"], params["seed"]) == ("0.25", "21", "1")
    assert params["promote"] == "True"
    assert (workspace / "models" / "champion.json").exists()


def test_promote_a_version_that_does_not_earn_it_exits_1(
    trainable_world: Path, workspace: Path
) -> None:
    runner = CliRunner()
    for _ in range(2):
        done = runner.invoke(app, ["train", str(trainable_world), "--targets", "clicks"])
        assert done.exit_code == 0, done.output
    same = runner.invoke(app, ["promote", "2"])
    assert same.exit_code == 1, same.output
    assert " ".join(same.stdout.split()).startswith(
        "Version 2 not promoted: it does not beat the current champion"
    )
    forced = runner.invoke(app, ["promote", "2", "--force"])
    assert forced.exit_code == 0, forced.output
    assert " ".join(forced.stdout.split()).startswith("Version 2 promoted to champion")
