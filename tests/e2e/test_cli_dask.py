"""`--engine dask` end to end: simulate, features, train and predict as real processes on a
local cluster of two, giving the pandas engine's files.

`features` starts its own cluster (`--workers 2`); `train` and `predict` connect to the
session's (`--scheduler`), as they would to an agency's running cluster, so that both ways
of finding a cluster are exercised and the test starts one cluster fewer per command.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture


def test_simulate_features_train_predict_on_a_local_dask_cluster(
    influence_cli: Cli, tmp_path: Path, dask_cluster: Any
) -> None:
    scheduler = ("--scheduler", dask_cluster.scheduler.address)
    world = tmp_path / "W"
    made = influence_cli(
        "simulate", "--out", world, "--accounts", "150", "--campaigns", "12", "--days", "300",
        "--candidates", "15", "--seed", "11", "--partitions", "4",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert len(list((world / "posts.parquet").glob("part-*.parquet"))) == 4

    single = influence_cli("features", world, "--out", tmp_path / "pandas.parquet")
    spread = influence_cli(
        "features", world, "--out", tmp_path / "dask.parquet", "--engine", "dask", "--workers", "2"
    )
    assert single.returncode == 0, single.stderr
    assert spread.returncode == 0, spread.stderr
    assert spread.stdout == single.stdout.replace("pandas.parquet", "dask.parquet")
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
        done = influence_cli(
            "predict", world, "--placements", tmp_path / "planned.parquet",
            "--out", tmp_path / f"scores-{engine}.csv", "--engine", engine,
            *(scheduler if engine == "dask" else ()), cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "40 placements scored" in done.stdout
        scores[engine] = (tmp_path / f"scores-{engine}.csv").read_bytes()
    assert scores["dask"] == scores["pandas"]
