"""`influence train` in-process: its options reach the run, its tables fit 80 columns."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from serving.cli import app
from training.artifacts.bundle import load_bundle

ROUND = re.compile(r"Training: round \d+ of \d+: boosting (clicks|conversions) \.\.\.")
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
        env={"COLUMNS": "80", "INFLUENCE_PROJECT": "brand-x"},
    )
    assert done.exit_code == 0, done.output
    # Not a terminal: one plain line per step, as a log shows them, and a booster's rounds
    # counted at its start and every fifth of them.
    lines = done.stderr.splitlines()
    earlier = lines.index("Training: fitting on the earlier campaigns ...")
    judging = lines.index("Training: judging it on the later campaigns ...")
    refitting = lines.index("Training: refitting on everything known ...")
    logging = lines.index("Training: logging the run and the model to MLflow ...")
    assert lines[:earlier] == ["Training ...", "Training: validating the data ..."]
    assert lines[judging + 1 : refitting] == []
    assert lines[logging:] == [
        "Training: logging the run and the model to MLflow ...",
        "Training: deciding on promotion ...",
    ]
    fitted = lines[earlier + 1 : judging]
    assert [line for line in fitted if "choosing" in line] == [  # the contract's order
        f"Training: boosting {t}: choosing the number of rounds by early stopping ..."
        for t in ("clicks", "conversions")
    ]
    counted = [line for line in fitted if "choosing" not in line]
    assert 2 <= len(counted) <= 2 * 5
    assert all(ROUND.fullmatch(line) for line in counted), counted
    fits(done.stdout)
    text = " ".join(done.stdout.split())  # sentences wrap at 80 columns
    # Targets in the contract's order everywhere (the flag's first still decides promotion):
    # the tables, what the models learned from, the bundle's metrics and predict's columns.
    ordered = ["clicks", "conversions"]
    assert re.findall(r"^(\w+) on \d+ later campaigns", done.stdout, re.MULTILINE) == ordered
    learned = re.search(r"learned from \(share of gain\): (\w+): .*; (\w+): ", text)
    assert learned is not None
    assert list(learned.groups()) == ordered
    bundle, manifest = load_bundle(workspace / "models" / "champion.json")
    assert list(manifest["metrics"]) == bundle.targets == ordered
    assert [c for c in bundle.predict_columns if c in ordered] == ordered
    assert "Version 1 promoted to champion: it beats the followers baseline on conversions" in text
    for target in ("conversions", "clicks"):
        assert re.search(rf"{target} on \d+ later campaigns \(\d+ placements\)", text)
        assert re.search(
            rf"The model bought [\d.]+ times the {target} per unit cost of the followers "
            r"baseline \[[\d.]+, [\d.]+\]",
            text,
        )
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
    run = MlflowClient().get_run(run_id.group(1))
    assert run.info.run_name == "brand-x train 584556a3"  # INFLUENCE_PROJECT names the runs
    assert run.data.tags["influence.project"] == "brand-x"
    params = run.data.params
    assert (params["budget_share"], params["window_days"], params["seed"]) == ("0.25", "21", "1")
    # The refit on everything runs the rounds the run logged, told at each fifth of them.
    assert lines[refitting + 1 : logging] == [
        f"Training: round {r} of {n}: boosting {t} ..."
        for t in ("clicks", "conversions")
        for n in [int(params[f"rounds.{t}"])]
        for r in range(1, n + 1, math.ceil(n / 5))
    ]
    assert params["promote"] == "True"
    assert (workspace / "models" / "champion.json").exists()


def test_promote_a_version_that_does_not_earn_it_exits_1(
    trainable_world: Path, workspace: Path
) -> None:
    runner = CliRunner()
    # The first in a currency (--currency): its table, its sentences and its run's story say
    # "per EUR"; the second in none, as the other test's.
    for currency in (["--currency", "EUR"], []):
        done = runner.invoke(app, ["train", str(trainable_world), "--targets", "clicks", *currency])
        assert done.exit_code == 0, done.output
        text = " ".join(done.stdout.split())
        if currency:
            assert "per EUR at" in done.stdout  # the budget metric's header, over three lines
            assert re.search(r"times the clicks per EUR of the followers baseline", text)
            assert "promoted to champion: it beats the followers baseline on clicks per EUR" in text
    client = MlflowClient()
    first = client.get_run(str(client.get_model_version("influence", "1").run_id))
    assert "- clicks per EUR " in first.data.tags["mlflow.note.content"]

    def status(version: str) -> str:
        """The last paragraph of the version's description: what promotion made of it."""
        return str(client.get_model_version("influence", version).description).split("\n\n")[-1]

    # Trained without --promote while a champion exists: not put to promotion yet.
    assert status("2") == (
        "Status: challenger; not put to promotion, as a champion exists "
        "(`influence promote 2` decides)."
    )
    same = runner.invoke(app, ["promote", "2"], env={"INFLUENCE_CURRENCY": "EUR"})
    assert same.exit_code == 1, same.output
    assert " ".join(same.stdout.split()).startswith(
        "Version 2 not promoted: it does not beat the current champion on clicks per EUR"
    )
    reason = " ".join(same.stdout.split()).removeprefix("Version 2 not promoted: ")
    assert status("2") == f"Status: challenger, not promoted; {reason}"
    forced = runner.invoke(app, ["promote", "2", "--force", "--currency", "EUR"])
    assert forced.exit_code == 0, forced.output
    assert " ".join(forced.stdout.split()).startswith("Version 2 promoted to champion")
    assert status("2") == f"Status: champion; promoted by request although {reason}"
    assert status("1") == "Status: former champion; version 2 replaced it."
    run = client.get_run(str(client.get_model_version("influence", "2").run_id))
    assert run.data.tags["mlflow.note.content"].endswith(status("2"))
