"""MLflow set-up: the embedded store by default, a tracking server by configuration."""

from __future__ import annotations

import logging

import mlflow

from training.settings import TrainingSettings

__all__ = ["use_tracking"]


def use_tracking(settings: TrainingSettings, experiment: str | None = None) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id.

    Called at the start of a command, never at import. With the embedded default the
    `mlruns/` folder is created and the experiment's artifacts live under it.
    """
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
        # The store's own start-up chatter is noise on a user's terminal.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    name = experiment or settings.experiment
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        exp_id = str(found.experiment_id)
    else:
        location = None
        if uri.startswith("sqlite:///"):
            location = (settings.mlruns_dir / "artifacts").resolve().as_uri()
        exp_id = str(mlflow.create_experiment(name, artifact_location=location))
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id
