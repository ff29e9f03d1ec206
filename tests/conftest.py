"""Shared fixtures: small simulated worlds written in the data contract."""

from __future__ import annotations

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
