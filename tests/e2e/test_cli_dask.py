"""`--engine dask` end to end: features, train and predict on a local cluster of two, giving
the pandas engine's files.

The two ways a command finds a cluster run as real processes, since that is where they
can break (a process that starts worker processes, one that connects to a scheduler it
did not start): `features` starts its own cluster (`--workers 2`) and `train` connects to
the session's (`--scheduler`), as it would to an agency's running cluster. The rest runs
in this process (CliRunner), the same commands on the same files: the simulated world,
the pandas engine's files the Dask engine's must equal, and `predict --engine dask` on the
session's cluster, whose tasks run in its worker processes either way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.cli import app
from training.settings import get_settings

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """`here(ARGS...)`: `influence ARGS...` in this process, in `tmp_path` as `influence_cli`
    runs it there (no INFLUENCE_ variable, 400 columns); its stdout, once it succeeded."""
    for name in ("INFLUENCE_MLFLOW_TRACKING_URI", "INFLUENCE_MLRUNS_DIR", "INFLUENCE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()

    def run(*args: str | Path) -> str:
        done = CliRunner().invoke(app, list(map(str, args)), env={"COLUMNS": "400"})
        assert done.exit_code == 0, done.output
        return done.stdout

    yield run
    get_settings.cache_clear()


def test_simulate_features_train_predict_on_a_local_dask_cluster(
    influence_cli: Cli, here: Callable[..., str], tmp_path: Path, dask_cluster: Any
) -> None:
    scheduler = ("--scheduler", dask_cluster.scheduler.address)
    world = tmp_path / "W"
    here(
        "simulate", "--out", world, "--accounts", "150", "--campaigns", "12", "--days", "300",
        "--candidates", "15", "--seed", "11", "--partitions", "4",
    )  # fmt: skip
    assert len(list((world / "posts.parquet").glob("part-*.parquet"))) == 4

    single = here("features", world, "--out", tmp_path / "pandas.parquet")
    spread = influence_cli(
        "features", world, "--out", tmp_path / "dask.parquet", "--engine", "dask", "--workers", "2"
    )
    assert spread.returncode == 0, spread.stderr
    assert spread.stdout == single.replace("pandas.parquet", "dask.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "dask.parquet"),
        pd.read_parquet(tmp_path / "pandas.parquet"),
        check_exact=True,
    )

    # One target: the engine's path is the same for each, and each costs a distributed fit.
    trained = influence_cli(
        "train", world, "--seed", "1", "--engine", "dask", "--targets", "clicks", *scheduler,
        cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "registered as version 1" in trained.stdout
    assert (tmp_path / "models" / "champion.json").exists()

    planned = pd.read_parquet(world / "placements.parquet").head(40)
    planned.drop(columns=["clicks", "referrals", "conversions", "revenue"]).to_parquet(
        tmp_path / "planned.parquet", index=False
    )
    scores = {}
    for engine in ("pandas", "dask"):
        done = here(
            "predict", world, "--placements", tmp_path / "planned.parquet",
            "--out", tmp_path / f"scores-{engine}.csv", "--engine", engine,
            *(scheduler if engine == "dask" else ()),
        )  # fmt: skip
        assert "40 placements scored" in done
        scores[engine] = (tmp_path / f"scores-{engine}.csv").read_bytes()
    assert scores["dask"] == scores["pandas"]
