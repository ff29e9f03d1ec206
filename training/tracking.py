"""MLflow set-up: the embedded store by default; a tracking server or a shared database by
configuration."""

from __future__ import annotations

import logging

import mlflow

from training.database import connect, is_database_url
from training.errors import TrainingError
from training.settings import TrainingSettings

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
    if database:
        # The store's own start-up chatter (schema migrations) is noise on a user's terminal.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    name = experiment or settings.experiment
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        exp_id = str(found.experiment_id)
    else:
        location = None
        if database:
            location = (settings.mlruns_dir / "artifacts").resolve().as_uri()
        exp_id = str(mlflow.create_experiment(name, artifact_location=location))
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id
