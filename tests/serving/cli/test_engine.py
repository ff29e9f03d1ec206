"""`--engine`: the choice parsed and refused in-process (the commands run on a real Dask
cluster in tests/e2e/test_cli_dask.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from serving.cli import app
from serving.cli.engine import Engine, run_on


def test_unknown_engine_and_a_scheduler_without_dask_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "f.parquet")
    unknown = runner.invoke(app, ["features", str(tmp_path), "--out", out, "--engine", "x"])
    assert unknown.exit_code == 2
    assert "Invalid value for '--engine': Value error, 'x' is not one of 'pandas', 'dask'." in (
        " ".join(unknown.stderr.split())
    )
    stray = runner.invoke(
        app, ["features", str(tmp_path), "--out", out, "--scheduler", "tcp://h:8786"]
    )
    assert stray.exit_code == 2
    assert "Invalid value for --scheduler: applies to --engine dask only" in stray.stderr
    assert not (tmp_path / "f.parquet").exists()


def test_every_engine_has_a_runner_and_help_lists_them() -> None:
    assert [e.value for e in Engine] == ["pandas", "dask"]
    for command in ("features", "train", "predict"):
        text = CliRunner().invoke(app, [command, "--help"]).stdout
        assert "--engine <pandas|dask>" in text
    with run_on(Engine.pandas, None, 2, None) as runner:
        assert runner.where == ""
