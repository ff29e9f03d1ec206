"""The shared options: their defaults are the library's own, their texts parse as it expects."""

from __future__ import annotations

import inspect
from pathlib import Path

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


READERS = [
    ["validate", "{data}"],
    ["features", "{data}", "--out", "{tmp}/f.parquet"],
    ["train", "{data}"],
    ["compare", "{data}", "--out", "{tmp}/report"],
    ["predict", "{data}", "--placements", "{data}/placements.csv", "--out", "{tmp}/p.csv"],
    ["rank", "{data}", "--brand", "b", "--topic", "t", "--budget", "100", "--out", "{tmp}/p.csv"],
    ["serve", "--data", "{data}"],
    ["abtest", "analyse", "{data}"],
    ["abtest", "plan", "{data}", "--lift", "0.2"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_every_command_that_reads_data_takes_columns_and_dayfirst(
    command: list[str], tmp_path: Path
) -> None:
    # A broken mapping file is refused before any work: the option reached the command.
    from typer.testing import CliRunner

    from serving.cli import app

    mapping = tmp_path / "map.toml"
    mapping.write_text('[posts]\nfans = "Fans"\n')
    args = [a.format(data=tmp_path / "data", tmp=tmp_path) for a in command]
    done = CliRunner().invoke(app, [*args, "--columns", str(mapping), "--dayfirst"])
    assert done.exit_code == 2, done.output
    assert " ".join(done.stderr.split()).endswith(
        f"{mapping}, column 'posts.fans': maps 'fans', which is not a column of posts."
    )
    assert list(tmp_path.iterdir()) == [mapping]


@pytest.mark.parametrize("command", ["predict", "serve"])
def test_predict_and_serve_read_the_columns_file_from_the_environment_without_the_flag(
    command: str, workspace: Path
) -> None:
    # `workspace`: the settings the commands cache are read afresh before and after.
    tmp_path = workspace
    from typer.testing import CliRunner

    from serving.cli import app

    mapping = tmp_path / "map.toml"
    mapping.write_text('[posts]\nfans = "Fans"\n')
    args = {
        "predict": ["predict", str(tmp_path / "data"), "--placements", str(tmp_path / "p.csv"),
                    "--out", str(tmp_path / "out.csv")],
        "serve": ["serve", "--data", str(tmp_path / "data")],
    }[command]  # fmt: skip
    done = CliRunner().invoke(app, args, env={"INFLUENCE_COLUMNS_FILE": str(mapping)})
    assert done.exit_code == 2, done.output
    assert " ".join(done.stderr.split()).endswith(
        f"{mapping}, column 'posts.fans': maps 'fans', which is not a column of posts."
    )


PROJECTS = [
    ["train", "{data}"],
    ["compare", "{data}", "--out", "{tmp}/report"],
    ["promote", "1"],
    ["predict", "{data}", "--placements", "{data}/placements.csv", "--out", "{tmp}/p.csv"],
    ["rank", "{data}", "--brand", "b", "--topic", "t", "--budget", "100", "--out", "{tmp}/p.csv"],
    ["serve", "--data", "{data}"],
]


@pytest.mark.parametrize("command", PROJECTS, ids=lambda c: c[0])
def test_every_command_of_a_project_takes_project_and_refuses_a_name_that_is_not_one(
    command: list[str], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from serving.cli import app

    args = [a.format(data=tmp_path / "data", tmp=tmp_path) for a in command]
    done = CliRunner().invoke(app, [*args, "--project", "acme corp"])
    assert done.exit_code == 2, done.output
    assert " ".join(done.stderr.split()).endswith(
        "Invalid value for '--project': 'acme corp' is not a project name: use 1 to 64 "
        "letters, digits, '-' and '_', such as acme or brand-x"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [["train", "{data}"], ["compare", "{data}", "--out", "{tmp}/report"], ["promote", "1"]],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("given", ["flag", "environment"])
def test_a_currency_that_cannot_be_shown_is_refused_before_any_work(
    command: list[str], given: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from serving.cli import app

    args = [a.format(data=tmp_path / "data", tmp=tmp_path) for a in command]
    if given == "flag":
        done = CliRunner().invoke(app, [*args, "--currency", "euro zone"])
    else:
        done = CliRunner().invoke(app, args, env={"INFLUENCE_CURRENCY": "euro zone"})
    assert done.exit_code == 2, done.output
    where = "--currency" if given == "flag" else "INFLUENCE_CURRENCY"
    assert done.stderr.splitlines()[-1] == (
        f"Error: Invalid value for {where}: The currency must be a code or symbol such as EUR, "
        "USD or €, at most 8 characters without spaces; got 'euro zone'"
    )
    assert list(tmp_path.iterdir()) == []
