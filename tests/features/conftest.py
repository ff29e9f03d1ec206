"""Fixtures of the features tests: a copy of the small CSV world to break, and a world
with its online features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.io import Dataset
from features.online import OnlineFeatures
from features.simulate import SimulationConfig, simulate_world


@pytest.fixture
def data(small_csv_dir: Path, tmp_path: Path) -> Path:
    """A copy of the small world's CSV directory, for one test to break as it likes."""
    target = tmp_path / "data"
    shutil.copytree(small_csv_dir, target)
    return target


@pytest.fixture(scope="session")
def online_data() -> Dataset:
    """A simulated world (200 accounts, seed 11), read by tests/features/test_online.py and
    test_snapshot.py."""
    w = simulate_world(SimulationConfig(accounts=200, campaigns=12, seed=11))
    return Dataset(
        accounts=w.accounts, posts=w.posts, campaigns=w.campaigns, placements=w.placements
    )


@pytest.fixture(scope="session")
def online_builder(online_data: Dataset) -> FeatureBuilder:
    """A builder fitted on `online_data`."""
    return FeatureBuilder().fit(online_data)


@pytest.fixture(scope="session")
def online(online_data: Dataset, online_builder: FeatureBuilder) -> OnlineFeatures:
    """`online_data`'s online features as of a second after its last post."""
    as_of = online_data.posts["posted_at"].max() + pd.Timedelta(seconds=1)
    return OnlineFeatures.build(online_builder, online_data, as_of)
