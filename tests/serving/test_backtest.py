"""Where the service looks for its project's latest backtest, when there is none to show
(serving/backtest.py); the backtest shown is tested on the pages (test_model_page.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from serving import backtest
from serving.backtest import BacktestReads, BacktestSource
from training.settings import TrainingSettings
from training.tracking.store import use_tracking

COMMAND = "influence compare /data/acme --out report --project acme"


def _source(home: Path, project: str = "influence") -> BacktestSource:
    return BacktestSource(TrainingSettings.under(home, project), None, "a" * 64, COMMAND)


def test_without_a_store_the_note_says_how_to_make_one_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    found = _source(tmp_path / "workspace", "acme").find()
    assert found.report is None
    assert found.note == (
        "No backtest of project acme is logged in MLflow yet (experiment "
        f"influence-acme-compare): `{COMMAND}` makes one, which this page shows once the "
        "service restarts or reloads."
    )
    assert not (tmp_path / "workspace").exists()


def test_a_store_that_cannot_be_read_is_its_sentence_alone(tmp_path: Path) -> None:
    """Not a backtest to make again, but a store to fix: no command is suggested."""
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"not a database")
    found = _source(tmp_path).find()
    assert (found.report, found.lasting) == (None, False)
    assert found.note == (
        f"The backtests of experiment influence-compare in sqlite:///{tmp_path}/mlruns/mlflow.db "
        "cannot be read: (sqlite3.DatabaseError) file is not a database."
    )


def test_a_store_that_could_not_be_read_is_asked_again_once_the_failure_is_old(
    tmp_path: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not kept for the state's life: a store fixed meanwhile shows without a reload."""
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"not a database")
    reads = BacktestReads(_source(tmp_path))
    assert reads.held() is None  # nothing read yet
    failed = reads.read()
    assert failed.note.endswith("file is not a database.")
    assert reads.held() is failed  # for RETRY_SECONDS, not asked again
    shutil.copyfile(empty_store, tmp_path / "mlruns" / "mlflow.db")
    assert reads.held() is failed
    monkeypatch.setattr(backtest, "RETRY_SECONDS", 0.0)
    assert reads.held() is None
    found = reads.read()
    assert found.note.startswith("No backtest of project influence is logged in MLflow yet")
    assert reads.held() is found  # kept: an answer, not a failure


def test_a_run_without_its_report_is_said_with_the_command_that_makes_a_new_one(
    tmp_path: Path, stored_under: Callable[[Path], TrainingSettings]
) -> None:
    settings = stored_under(tmp_path)
    tracking = use_tracking(settings, experiment="influence-compare")
    run = tracking.client.create_run(tracking.experiment_id).info.run_id
    tracking.client.set_terminated(run, status="FINISHED")
    found = BacktestSource(settings, None, "a" * 64, COMMAND).find()
    assert found.note == (
        f"Backtest run {run} has no report.json: it was not logged whole. `{COMMAND}` makes a "
        "new one, which this page shows once the service restarts or reloads."
    )


def test_a_report_page_compare_would_not_write_is_said_with_the_command_that_makes_a_new_one(
    tmp_path: Path,
    stored_under: Callable[[Path], TrainingSettings],
    compared: tuple[Path, Result],
) -> None:
    """A `<meta http-equiv="refresh">` would send the reader elsewhere from the service's
    origin: the page shows why there is no report instead, and the numbers are not shown."""
    settings = stored_under(tmp_path)
    tracking = use_tracking(settings, experiment="influence-compare")
    run = tracking.client.create_run(tracking.experiment_id).info.run_id
    report = compared[0] / "report"
    page = (report / "report.html").read_bytes()
    refresh = b'<head><meta http-equiv="refresh" content="0;url=https://elsewhere.example/">'
    (tmp_path / "report.html").write_bytes(page.replace(b"<head>", refresh))
    tracking.client.log_artifact(run, str(report / "report.json"))
    tracking.client.log_artifact(run, str(tmp_path / "report.html"))
    tracking.client.set_terminated(run, status="FINISHED")
    found = BacktestSource(settings, None, "a" * 64, COMMAND).find()
    assert (found.report, found.lasting) == (None, True)  # the run's, not the store's: kept
    assert found.note == (
        f"The report.html of backtest run {run} holds a <meta http-equiv> (or another <meta> "
        f"than its charset), which influence compare never writes: not served. `{COMMAND}` "
        "makes a new one, which this page shows once the service restarts or reloads."
    )
