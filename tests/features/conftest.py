"""Fixtures of the features tests: a copy of the small CSV world to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def data(small_csv_dir: Path, tmp_path: Path) -> Path:
    """A copy of the small world's CSV directory, for one test to break as it likes."""
    target = tmp_path / "data"
    shutil.copytree(small_csv_dir, target)
    return target
