"""Shared fixtures: small simulated worlds written in the data contract."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from features.simulate import SimulationConfig, World, simulate_world, write_world

SMALL = SimulationConfig(accounts=60, campaigns=6, days=90, candidates=10, seed=3)


@pytest.fixture(scope="session")
def small_world() -> World:
    """A world small enough to build in milliseconds."""
    return simulate_world(SMALL)


@pytest.fixture(scope="session")
def small_csv_dir(tmp_path_factory: pytest.TempPathFactory, small_world: World) -> Path:
    """The small world as CSV files; tests copy it before breaking it."""
    out = tmp_path_factory.mktemp("small") / "world"
    write_world(small_world, out, fmt="csv")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a world, a trained champion (all four targets) and its MLflow store.

    Layout: `world/` (data), `models/` (bundles, champion.json), `mlruns/`.
    """
    from training.settings import TrainingSettings
    from training.train import TrainConfig, train

    root = tmp_path_factory.mktemp("trained")
    write_world(
        simulate_world(SimulationConfig(accounts=800, campaigns=30, seed=5)), root / "world"
    )
    settings = TrainingSettings.under(root)
    result = train(root / "world", TrainConfig(seed=1), settings)
    assert result.decision is not None
    assert result.decision.promote
    return root


Cli = Callable[..., "subprocess.CompletedProcess[str]"]
ServerFactory = Callable[[Path, int], "subprocess.Popen[str]"]


@pytest.fixture(scope="session")
def influence_cli() -> Cli:
    """Run `influence ARGS...` as a real process (in `cwd`, if given); returns it finished."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "serving", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
            cwd=cwd,
        )

    return run


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def start_server(trained: Path) -> ServerFactory:
    """Start `influence serve` on the trained workspace; the caller stops it.

    Takes the decision-log path and the port; stdout and stderr are pipes.
    """

    def start(decision_log: Path, port: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serving",
                "serve",
                "--data",
                str(trained / "world"),
                "--port",
                str(port),
                "--model",
                str(trained / "models" / "champion.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "INFLUENCE_DECISION_LOG": str(decision_log)},
        )

    return start
