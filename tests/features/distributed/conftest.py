"""Fixtures of the Dask engine's tests: a local cluster and a world loaded by both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from features.distributed import PartitionedData, load_partitioned
from features.io import Dataset, load_dataset
from features.simulate import SimulationConfig, simulate_world, write_world

WORLD = SimulationConfig(accounts=300, campaigns=20, days=240, candidates=20, seed=11)


@pytest.fixture(scope="session")
def client(dask_cluster: Any) -> Any:
    """The session's local cluster (tests/conftest.py)."""
    return dask_cluster


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`WORLD` as partitioned Parquet: five files per table."""
    out = tmp_path_factory.mktemp("dask") / "world"
    write_world(simulate_world(WORLD), out, partitions=5)
    return out


@pytest.fixture(scope="session")
def both(client: Any, world_dir: Path) -> tuple[Dataset, PartitionedData]:
    """The world loaded by the pandas engine and by the Dask engine."""
    return load_dataset(world_dir), load_partitioned(client, world_dir)
