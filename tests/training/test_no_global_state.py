"""Library calls leave the process as they found it: MLflow's globals, loggers, matplotlib.

`train`, `run_compare` and serving's registry loader run with MLflow's process-wide
tracking URI set to a store that does not exist and matplotlib on a backend no library
would pick: a call that used or changed either would fail here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib
import mlflow
import pytest

from features.simulate import SimulationConfig, simulate_world, write_world
from serving.state import load_model
from training.backtest.compare import run_compare
from training.backtest.report import FIGURES
from training.backtest.rolling import BacktestConfig
from training.fitting import TrainConfig
from training.pipeline import train
from training.settings import TrainingSettings
from training.tracking.store import use_tracking

SENTINEL = "file:///nonexistent-sentinel"
"""A user's own tracking URI: no store is there, so a library call that used it would fail."""

WORLD = SimulationConfig(accounts=300, campaigns=20, seed=7)


@pytest.fixture
def svg_backend() -> Iterator[str]:
    """matplotlib on the svg backend (which no library call here would choose); put back after."""
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    yield matplotlib.get_backend()
    matplotlib.use(previous)


def _process_state() -> dict[str, Any]:
    """What a library call must not change: MLflow's globals (and the variables they mirror),
    the levels of MLflow's and alembic's loggers, and matplotlib's backend."""
    loggers = logging.root.manager.loggerDict
    return {
        "tracking_uri": mlflow.get_tracking_uri(),
        "registry_uri": mlflow.get_registry_uri(),
        "active_run": mlflow.active_run(),
        "environment": {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")},
        "levels": {
            name: logging.getLogger(name).level
            for name in loggers
            if name.split(".")[0] in ("mlflow", "alembic")
        },
        "backend": matplotlib.get_backend(),
    }


def test_train_compare_and_a_registry_load_leave_the_process_as_they_found_it(
    tmp_path: Path, global_tracking_uri: Callable[[str], None], svg_backend: str
) -> None:
    write_world(simulate_world(WORLD), tmp_path / "world")
    settings = TrainingSettings.under(tmp_path)
    global_tracking_uri(SENTINEL)
    before = _process_state()
    assert before["tracking_uri"] == SENTINEL
    assert before["backend"] == svg_backend == "svg"

    result = train(tmp_path / "world", TrainConfig(targets=("clicks",), seed=1), settings)
    compared = run_compare(
        tmp_path / "world",
        tmp_path / "report",
        BacktestConfig(targets=("clicks",), folds=2, seed=0),
        settings,
    )
    bundle, meta = load_model("models:/influence@champion", use_tracking(settings))

    after = _process_state()
    assert after["active_run"] is None
    # A logger that a call created (by importing a module) counts as NOTSET before it.
    was = {name: before["levels"].get(name, logging.NOTSET) for name in after["levels"]}
    assert after["levels"] == was
    assert after == {**before, "levels": after["levels"]}

    # ... and they did their work, in the store the settings name.
    assert meta["version"] == result.version == "1"
    assert bundle.metadata["run_id"] == result.run_id
    client = use_tracking(settings).client
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert client.get_run(compared.run_id).info.status == "FINISHED"
    assert compared.files.html.read_text().count("data:image/png;base64,") == FIGURES
    logged = {a.path for a in client.list_artifacts(result.run_id)}
    assert "importance_by_family.png" in logged
