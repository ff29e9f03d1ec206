"""Fixtures of the CLI tests: a workspace of its own per test, and a check of the width."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from training.settings import get_settings


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path) -> Iterator[Path]:
    """`tmp_path` as the working directory, holding the MLflow store (a copy of the
    session's empty one) and `models/`.

    The training settings are read afresh from these variables, and again after the test.
    """
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFLUENCE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("INFLUENCE_MLRUNS_DIR", str(tmp_path / "mlruns"))
    monkeypatch.setenv("INFLUENCE_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _fits(text: str, width: int = 80) -> None:
    # A line that is one word (a path longer than the terminal) cannot be wrapped without
    # breaking what a user copies; the terminal wraps it.
    wide = [line for line in text.splitlines() if len(line) > width and " " in line.strip()]
    assert wide == [], f"{len(wide)} lines wider than {width}:\n" + "\n".join(wide)
    assert "…" not in text


@pytest.fixture
def fits() -> Callable[..., None]:
    """`fits(text, width=80)`: assert that no line of `text` is wider than `width` (but a
    single word, such as a long path, which is never broken) and that nothing was cut
    short with an ellipsis."""
    return _fits
