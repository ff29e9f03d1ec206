"""The embedded MLflow store: two first-ever `influence train` runs at once both succeed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from features.simulate import SimulationConfig, simulate_world, write_world
from training.artifacts.bundle import load_bundle

# Small enough that a run takes about 10 s, big enough to have closed campaigns to check on.
WORLD = SimulationConfig(accounts=300, campaigns=20, seed=7)

TrainFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_training` fixture


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
