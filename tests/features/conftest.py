"""Fixtures of the features tests: a copy of the small CSV world to break, and a world
with its online features."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
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


@dataclass(frozen=True)
class OnlineWorld:
    """A simulated world (200 accounts, seed 11), a builder fitted on it, and its online
    features as of a second after its last post."""

    data: Dataset
    builder: FeatureBuilder
    online: OnlineFeatures


@pytest.fixture(scope="session")
def online_world() -> OnlineWorld:
    """The world tests/features/test_online.py and test_snapshot.py read, built once."""
    w = simulate_world(SimulationConfig(accounts=200, campaigns=12, seed=11))
    data = Dataset(
        accounts=w.accounts, posts=w.posts, campaigns=w.campaigns, placements=w.placements
    )
    builder = FeatureBuilder().fit(data)
    as_of = data.posts["posted_at"].max() + pd.Timedelta(seconds=1)
    return OnlineWorld(data, builder, OnlineFeatures.build(builder, data, as_of))
