"""A command that fails says so in one sentence naming the flag, with the layer's exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.cli import app
from serving.cli.errors import FLAGS, flagged
from serving.cli.options import BACKTEST, SIMULATION, TRAIN


def test_the_parameter_a_sentence_starts_with_becomes_its_flag() -> None:
    assert (
        flagged("window_days must be at least 1, got 0.") == "--window must be at least 1, got 0."
    )
    assert flagged("holdout_share must be between 0 and 1, got 1.0.") == (
        "--holdout-share must be between 0 and 1, got 1.0."
    )
    # Not a parameter, or a parameter that is not the sentence's subject: left as written.
    assert flagged("Shorten window_days must wait.") == "Shorten window_days must wait."
    assert flagged("random_draws must be at least 1, got 0.") == (
        "random_draws must be at least 1, got 0."
    )
    assert flagged("A backtest with 4 folds needs at least 4 held-out campaigns.") == (
        "A backtest with 4 folds needs at least 4 held-out campaigns."
    )


def test_every_flag_in_the_table_is_one_the_cli_has() -> None:
    runner = CliRunner()
    helps = " ".join(
        runner.invoke(app, [*command, "--help"]).stdout
        for command in (["train"], ["compare"], ["simulate"], ["features"], ["abtest", "plan"])
    )
    assert [flag for flag in FLAGS.values() if f"  {flag} " not in helps] == []
    # The library's own names, so that its messages match them.
    assert {"window_days", "validation_share", "budget_share"} <= set(vars(TRAIN))
    assert {"folds", "holdout_share", "targets"} <= set(vars(BACKTEST))
    assert {"accounts", "campaigns", "days", "candidates"} <= set(vars(SIMULATION))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{data}", "--window", "0"], "--window must be at least 1, got 0."),
        (
            ["train", "{data}", "--validation-share", "1"],
            "--validation-share must be between 0 and 1, got 1.0.",
        ),
        (["train", "{data}", "--budget-share", "0"], "--budget-share must be in (0, 1], got 0.0."),
        (
            ["train", "{data}", "--targets", "likes"],
            "--targets must be among clicks, referrals, conversions, revenue; got likes.",
        ),
        (
            ["compare", "{data}", "--out", "{tmp}/r", "--folds", "0"],
            "--folds must be at least 1, got 0.",
        ),
        (
            ["compare", "{data}", "--out", "{tmp}/r", "--holdout-share", "1.5"],
            "--holdout-share must be between 0 and 1, got 1.5.",
        ),
        (
            ["simulate", "--out", "{tmp}/w", "--days", "5"],
            "--days must be at least 60 (histories need time), got 5.",
        ),
        (
            [
                "abtest",
                "plan",
                "--lift",
                "0.2",
                "--baseline-mean",
                "1",
                "--baseline-sd",
                "1",
                "--power",
                "1",
            ],
            "--power must be between 0 and 1, got 1.0.",
        ),
    ],
    ids=lambda v: " ".join(v[:3]) if isinstance(v, list) else "",
)
def test_a_refused_value_names_its_flag(
    args: list[str], message: str, small_csv_dir: Path, tmp_path: Path
) -> None:
    argv = [a.format(data=small_csv_dir, tmp=tmp_path) for a in args]
    done = CliRunner().invoke(app, argv, env={"COLUMNS": "80"})
    assert done.exit_code == 1, done.output
    assert done.stderr == f"error: {message}\n"
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_data_that_breaks_the_contract_exits_2(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["validate", str(tmp_path / "absent")])
    assert done.exit_code == 2
    assert "is not a directory; give the folder holding the tables." in done.stderr
    out = str(tmp_path / "f.parquet")
    done = CliRunner().invoke(app, ["features", str(tmp_path / "absent"), "--out", out])
    assert done.exit_code == 2
    assert done.stderr == (  # the progress line says what failed, as a log shows it
        f"Validating {tmp_path / 'absent'} ...\n"
        "error: The data breaks the contract in 1 place:\n"
        f"  - {tmp_path / 'absent'}: is not a directory; give the folder holding the tables.\n"
    )
