"""Where the service looks for its project's latest backtest, when there is none to show
(serving/backtest.py); the backtest shown is tested on the pages (test_pages.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from serving.backtest import BacktestSource
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
    assert found.report is None
    assert found.note == (
        f"The backtests of experiment influence-compare in sqlite:///{tmp_path}/mlruns/mlflow.db "
        "cannot be read: (sqlite3.DatabaseError) file is not a database."
    )


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
