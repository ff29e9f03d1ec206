"""MLflow set-up: the embedded store by default; a tracking server or a shared database by
configuration."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

import mlflow

from training.errors import TrainingError
from training.settings import TrainingSettings
from training.tracking.database import connect, is_database_url
from training.tracking.quiet import quieted

__all__ = ["TrackingStoreError", "use_tracking"]


class TrackingStoreError(TrainingError):
    """The MLflow store's database cannot be used: its driver is missing or it is unreachable."""


def use_tracking(settings: TrainingSettings, experiment: str | None = None) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id.

    Called at the start of a command, never at import. With the embedded default the
    `mlruns/` folder is created. When MLflow talks to a database itself (SQLite or a
    shared one such as PostgreSQL) a new experiment's artifacts go under `mlruns/`
    (MLflow's default is `./mlruns` wherever the command runs); a tracking server
    decides for itself. A database whose driver is missing or that cannot be reached
    raises TrackingStoreError at once, with one sentence, instead of MLflow's retries
    (about 100 s) and its traceback.
    """
    uri = settings.tracking_uri()
    database = is_database_url(uri)
    if uri.startswith("sqlite:///"):
        settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
    elif database:
        connect(
            settings.configured_tracking_uri(),  # named as the user wrote it
            "The MLflow tracking store",
            "MLFLOW_TRACKING_URI (or INFLUENCE_MLFLOW_TRACKING_URI)",
            TrackingStoreError,
        ).dispose()
    mlflow.set_tracking_uri(uri)
    name = experiment or settings.experiment
    location = (settings.mlruns_dir / "artifacts").resolve().as_uri() if database else None
    # The embedded store is created (schema and all) by the first call that touches it; two
    # first-ever runs at once would both create it. A lock beside it lets one go first.
    lock = settings.mlruns_dir / LOCK_FILE if uri.startswith("sqlite:///") else None
    # The store's own start-up chatter (schema migrations) is noise on a user's terminal.
    noisy = STORE_LOGGERS if database else ()
    with quieted(logging.WARNING, *noisy), _locked(lock):
        exp_id = _experiment(name, location)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


STORE_LOGGERS = ("mlflow.store.db.utils", "alembic")
"""What a database store logs while it creates or migrates its schema."""

LOCK_FILE = ".store.lock"
"""Beside the embedded store: held while the store and the experiment are created."""


@contextlib.contextmanager
def _locked(path: Path | None) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if absent); nothing when `path` is None."""
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _experiment(name: str, location: str | None) -> str:
    """The id of experiment `name`, created when absent.

    A shared store (a database or a server) has no lock of ours: when another process
    created the experiment between the look-up and the creation, it is looked up again.
    """
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(mlflow.create_experiment(name, artifact_location=location))
    except mlflow.exceptions.MlflowException:
        again = mlflow.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)
