"""`influence train` in-process: its options reach the run, its tables fit 80 columns, and
two projects trained in one workspace keep their own champions."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from serving.app import create_app
from serving.cli import app
from serving.settings import read_settings
from training.artifacts.bundle import load_bundle
from training.settings import get_settings

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
    # Where everything goes, then (not a terminal) one plain line per step, as a log shows
    # them, and a booster's rounds counted at its start and every fifth of them.
    lines = done.stderr.splitlines()
    earlier = lines.index("Training: fitting on the earlier campaigns ...")
    judging = lines.index("Training: judging it on the later campaigns ...")
    refitting = lines.index("Training: refitting on everything known ...")
    logging = lines.index("Training: logging the run and the model to MLflow ...")
    assert lines[:earlier] == [
        f"Workspace {workspace}, project brand-x: models in {workspace / 'models' / 'brand-x'}, "
        f"runs in sqlite:///{workspace / 'mlflow.db'}.",
        "Training ...",
        "Training: validating the data ...",
    ]
    assert lines[judging + 1 : refitting] == []
    assert lines[logging:] == [
        "Training: logging the run and the model to MLflow ...",
        "Training: deciding on promotion ...",
        "Training: writing the champion's online snapshot ...",
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
    bundle, manifest = load_bundle(workspace / "models" / "brand-x" / "champion.json")
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
    # A named project has a folder, a registered model and an experiment of its own.
    assert (workspace / "models" / "brand-x" / "champion.json").exists()
    assert not (workspace / "models" / "champion.json").exists()
    version = MlflowClient().get_model_version_by_alias("influence-brand-x", "champion")
    assert version.run_id == run.info.run_id
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.name == "influence-brand-x-train"
    # A link that opens the run on the runs view, and how to start the UI on this store.
    assert text.endswith(
        f"See the run in the MLflow UI (mlflow ui --backend-store-uri sqlite:///"
        f"{workspace / 'mlflow.db'}): http://127.0.0.1:5000/#/experiments/"
        f"{run.info.experiment_id}/runs/{run.info.run_id}?workflowType=machine_learning"
    )


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
    # The first bundle records its currency, so that the service speaks of cost in it too.
    manifests = [
        json.loads((workspace / "models" / f"influence-v{v}.json").read_text()) for v in (1, 2)
    ]
    assert [m.get("currency") for m in manifests] == ["EUR", None]
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


def test_two_projects_in_one_workspace_keep_separate_champions(
    trained: Path, trainable_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Project A is the default project of the session's trained workspace (a copy of its
    # models and store); project brand-b learns from other data in the same workspace,
    # from another directory: INFLUENCE_HOME says where the workspace is.
    home = tmp_path / "workspace"
    for folder in ("models", "mlruns"):
        shutil.copytree(trained / folder, home / folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in ("INFLUENCE_MLFLOW_TRACKING_URI", "INFLUENCE_MLRUNS_DIR", "INFLUENCE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("INFLUENCE_HOME", str(home))
    get_settings.cache_clear()
    store = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    champion_a = (home / "models" / "champion.json").read_bytes()
    version_a = str(client.get_model_version_by_alias("influence", "champion").version)

    argv = ["train", str(trainable_world), "--targets", "clicks", "--project", "brand-b"]
    done = CliRunner().invoke(app, argv)
    get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines()[0] == (
        f"Workspace {home}, project brand-b: models in {home / 'models' / 'brand-b'}, "
        f"runs in {store}."
    )
    assert "Version 1 promoted to champion" in " ".join(done.stdout.split())

    # A's champion is untouched: its manifest, its alias, its registered model.
    assert (home / "models" / "champion.json").read_bytes() == champion_a
    assert str(client.get_model_version_by_alias("influence", "champion").version) == version_a
    b = client.get_model_version_by_alias("influence-brand-b", "champion")
    assert str(b.version) == "1"
    manifest_a = json.loads(champion_a)
    manifest_b = json.loads((home / "models" / "brand-b" / "champion.json").read_text())
    assert manifest_b["data_digest"] != manifest_a["data_digest"]
    assert manifest_b["run_id"] == b.run_id
    assert client.get_run(str(b.run_id)).info.run_name.startswith("brand-b train ")

    # Serving A (no project named) serves A's model, and says its data is A's.
    with TestClient(create_app(read_settings(data_dir=trained / "world"))) as served:
        info = served.get("/model").json()
    assert (info["version"], info["data_digest"]) == (version_a, manifest_a["data_digest"])
    assert info["data_matches_model"] is True
    assert info["data_note"] == (
        f"The data in {trained / 'world'} is the data model version {version_a} was trained "
        f"on (digest {manifest_a['data_digest'][:8]})."
    )
    assert (home / "decisions.db").exists()
    # B's service would read B's champion and keep its own decision log.
    b_settings = read_settings(project="brand-b")
    assert b_settings.model_uri == str(home / "models" / "brand-b" / "champion.json")
    assert b_settings.decision_log == str(home / "decisions-brand-b.db")
