"""Settings of the training layer, read from the environment."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from training.errors import TrainingError
from training.tracking.database import sqlalchemy_url
from training.units import CostUnit

__all__ = ["TrainingSettings", "get_settings"]


class TrainingSettings(BaseSettings):
    """Where runs and models go.

    `mlflow_tracking_uri` defaults to an embedded SQLite store under `mlruns/`
    (artifacts beside it); the standard `MLFLOW_TRACKING_URI` variable, or
    `INFLUENCE_MLFLOW_TRACKING_URI`, points it at a tracking server or a shared
    database (`postgresql://...`, with the `postgres` extra) instead.
    Relative paths are relative to the working directory. `project` (INFLUENCE_PROJECT)
    names the runs (`influence train 3f9a12bc`) and tags them (`influence.project`), so
    that one store can hold several brands' or teams' runs apart. `currency`
    (INFLUENCE_CURRENCY, or `--currency`) is what the costs are in, for the words of
    results ("clicks per EUR"; none: "per unit cost"); checked where it is used
    (`cost_unit`), so that a bad one never stops what does not speak of cost.
    """

    model_config = SettingsConfigDict(env_prefix="INFLUENCE_")

    mlflow_tracking_uri: str | None = None
    mlruns_dir: Path = Path("mlruns")
    models_dir: Path = Path("models")
    experiment: str = "influence"
    registered_model: str = "influence"
    project: str = "influence"
    currency: str | None = None

    @classmethod
    def under(cls, root: Path) -> TrainingSettings:
        """Settings that keep everything in one folder: `root/mlruns` (embedded store) and
        `root/models`, whatever the environment says. For workspaces, tests and scripts."""
        return cls(
            mlflow_tracking_uri=f"sqlite:///{Path(root) / 'mlruns' / 'mlflow.db'}",
            mlruns_dir=Path(root) / "mlruns",
            models_dir=Path(root) / "models",
        )

    def cost_unit(self) -> CostUnit:
        """The words for cost in results (`training.units.CostUnit`); TrainingError when the
        currency cannot be shown."""
        try:
            return CostUnit.of(self.currency)
        except ValueError as e:
            raise TrainingError(f"{e} (INFLUENCE_CURRENCY).") from e

    def configured_tracking_uri(self) -> str:
        """The URI as configured: the explicit setting, MLFLOW_TRACKING_URI, or the embedded
        store. For messages; MLflow gets `tracking_uri()`."""
        uri = self.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        return uri or f"sqlite:///{(self.mlruns_dir / 'mlflow.db').resolve()}"

    def tracking_uri(self) -> str:
        """The URI in force, for MLflow: `configured_tracking_uri()` with a plain
        `postgresql://` URL given the psycopg driver. MLflow hands the URL to SQLAlchemy,
        which would otherwise look for psycopg2 (before SQLAlchemy 2.1)."""
        return sqlalchemy_url(self.configured_tracking_uri())


@lru_cache
def get_settings() -> TrainingSettings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return TrainingSettings()
