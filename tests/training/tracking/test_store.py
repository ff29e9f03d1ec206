"""The embedded MLflow store: two first-ever `influence train` runs at once both succeed; a
handle's runs end FINISHED, or FAILED when their block raises, as `mlflow.start_run`'s do."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from features.simulate import SimulationConfig, simulate_world, write_world
from training.artifacts.bundle import load_bundle
from training.settings import TrainingSettings
from training.tracking.store import use_tracking

# Small enough that a run takes about 10 s, big enough to have closed campaigns to check on.
WORLD = SimulationConfig(accounts=300, campaigns=20, seed=7)

TrainFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_training` fixture
StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture


@pytest.mark.slow
def test_two_first_ever_runs_at_once_both_succeed(
    tmp_path: Path, start_training: TrainFactory
) -> None:
    write_world(simulate_world(WORLD), tmp_path / "world")
    store = tmp_path / "mlruns"
    assert not store.exists()  # neither run finds a store: both would create it
    # Started back to back: both spend the same seconds importing, then reach the store
    # within milliseconds of each other, while creating it (its schema) takes far longer.
    runs = [start_training(tmp_path, 7) for _ in range(2)]
    try:
        done = [run.communicate(timeout=120) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.communicate()
    for run, (_, err) in zip(runs, done, strict=True):
        assert run.returncode == 0, err

    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiments = [e for e in client.search_experiments() if e.name == "influence"]
    assert len(experiments) == 1
    finished = client.search_runs([experiments[0].experiment_id])
    assert sorted(r.info.status for r in finished) == ["FINISHED", "FINISHED"]
    versions = client.search_model_versions("name = 'influence'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    bundle, manifest = load_bundle(tmp_path / "models" / "champion.json")
    assert manifest["version"] in {"1", "2"}
    assert bundle.targets == ["clicks"]


def test_a_handles_run_ends_finished_or_failed_by_how_its_block_ends(
    tmp_path: Path, stored_under: StoredUnder
) -> None:
    tracking = use_tracking(stored_under(tmp_path), experiment="lifecycle")
    ids: dict[str, str] = {}
    with tracking.run(tags={"kind": "fine"}, name="fine") as ids["fine"]:
        tracking.log_params(ids["fine"], {"folds": 3, "truth": False})
        tracking.log_metrics(ids["fine"], {"clicks.model.actions_per_cost": 0.25})
    with pytest.raises(ValueError, match="broken"), tracking.run() as ids["raised"]:
        raise ValueError("broken")
    with pytest.raises(KeyboardInterrupt, match="stop"), tracking.run() as ids["interrupted"]:
        raise KeyboardInterrupt("stop")

    runs = {name: tracking.client.get_run(run_id) for name, run_id in ids.items()}
    assert {name: r.info.status for name, r in runs.items()} == {
        "fine": "FINISHED",
        "raised": "FAILED",
        "interrupted": "FAILED",
    }
    fine = runs["fine"]
    assert fine.info.experiment_id == tracking.experiment_id
    assert fine.info.run_name == "fine"
    assert fine.data.tags["kind"] == "fine"
    assert "mlflow.user" in fine.data.tags  # MLflow's context tags, as start_run gives them
    assert fine.data.params == {"folds": "3", "truth": "False"}
    assert fine.data.metrics == {"clicks.model.actions_per_cost": 0.25}


def test_the_experiment_opens_on_its_runs_whether_created_or_found(
    tmp_path: Path, stored_under: StoredUnder
) -> None:
    settings = stored_under(tmp_path)
    created = use_tracking(settings, experiment="new")
    client = created.client
    assert client.get_experiment(created.experiment_id).tags == {
        "mlflow.experimentKind": "custom_model_development"
    }
    # One an older version created, without the tag, gets it when found.
    old_id = client.create_experiment("old")
    assert use_tracking(settings, experiment="old").experiment_id == old_id
    assert client.get_experiment(old_id).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )
    # A kind the user chose in the UI stays theirs.
    chosen = client.create_experiment("chosen", tags={"mlflow.experimentKind": "genai_development"})
    use_tracking(settings, experiment="chosen")
    assert client.get_experiment(chosen).tags["mlflow.experimentKind"] == "genai_development"


def test_a_tracking_server_s_run_page_is_on_the_server() -> None:
    from mlflow.tracking import MlflowClient as Client

    from training.tracking.store import Tracking

    # The page is made from the URI alone: the client (a server's, which connects to
    # nothing until asked) is never called; an embedded one would create its schema.
    unused = Client("https://mlflow.example.com/")
    served = Tracking("https://mlflow.example.com/", "7", unused)
    assert served.run_page("abc") == (
        "See the run in the MLflow UI: https://mlflow.example.com/#/experiments/7/runs/abc"
        "?workflowType=machine_learning"
    )
    database = "postgresql://influence:secret@db:5432/mlflow"
    shared = Tracking(database, "2", unused)
    assert shared.run_page("abc").startswith(
        "See the run in the MLflow UI (mlflow ui --backend-store-uri "
        "postgresql://influence:***@db:5432/mlflow): http://127.0.0.1:5000/#/experiments/2/"
    )
