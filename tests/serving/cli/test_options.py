"""The shared options: their defaults are the library's own, their texts parse as it expects."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
import typer

from features.contract import OUTCOMES
from features.distributed import dask_client
from serving.cli.options import (
    BACKTEST_TARGETS,
    LOCAL_WORKERS,
    TRAIN_TARGETS,
    targets_of,
    until_of,
)


def test_the_defaults_are_the_library_s() -> None:
    assert inspect.signature(dask_client).parameters["workers"].default == LOCAL_WORKERS
    assert targets_of(TRAIN_TARGETS) == targets_of(BACKTEST_TARGETS) == OUTCOMES


def test_targets_and_until_parse_as_the_library_expects() -> None:
    assert targets_of(" clicks, revenue ,,") == ("clicks", "revenue")
    assert until_of(None) is None
    assert until_of("2025-06-30") == pd.Timestamp("2025-06-30", tz="UTC")
    with pytest.raises(typer.BadParameter, match=r"^expected a date such as 2025-06-30, got 'x'$"):
        until_of("x")
