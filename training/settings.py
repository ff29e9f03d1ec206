"""Settings of the training layer, read from the environment."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.errors import TrainingError
from training.tracking.database import redacted, sqlalchemy_url
from training.units import CostUnit
from training.workspace import DEFAULT_PROJECT, Workspace, check_project

__all__ = [
    "TrainingSettings",
    "WorkspaceSettings",
    "get_settings",
    "settings_for",
    "settings_problems",
]


class WorkspaceSettings(BaseSettings):
    """What every layer's settings read alike: the workspace root and the project.

    `home` is INFLUENCE_HOME (default the working directory), made absolute when the
    settings are read; `project` is INFLUENCE_PROJECT, checked to be a project name
    (`training.workspace.check_project`). A subclass resolves its own paths against the
    workspace in `_resolve`, once, so that a later change of directory moves nothing.
    """

    model_config = SettingsConfigDict(env_prefix="INFLUENCE_")

    home: Path | None = None
    project: str = DEFAULT_PROJECT

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        return check_project(value)

    @model_validator(mode="after")
    def _in_workspace(self) -> Self:
        workspace = self.workspace()
        self.home = workspace.home
        self._resolve(workspace)
        return self

    def _resolve(self, workspace: Workspace) -> None:
        """Resolve the subclass's relative paths against `workspace` (nothing here)."""

    def workspace(self) -> Workspace:
        """The workspace root and the project (`training.workspace.Workspace`)."""
        return Workspace.at(self.home, self.project)


class TrainingSettings(WorkspaceSettings):
    """Where runs and models go, for which project of which workspace.

    `home` (INFLUENCE_HOME, default the working directory) is the workspace root: the
    relative paths below are resolved against it when the settings are read, so that a
    command started elsewhere finds the same folders. `project` (INFLUENCE_PROJECT, a
    name of letters, digits, '-' and '_') is the brand or client: it names the runs
    (`acme train 3f9a12bc`), tags them (`influence.project`) and, for any project but the
    default `influence`, gets its own models folder, registered model and experiments
    (`training.workspace`; `project_models_dir`, `model_name`, `experiment_name`).
    `mlflow_tracking_uri` defaults to an embedded SQLite store under `mlruns/`
    (artifacts beside it), shared by the workspace's projects; the standard
    `MLFLOW_TRACKING_URI` variable, or `INFLUENCE_MLFLOW_TRACKING_URI`, points it at a
    tracking server or a shared database (`postgresql://...`, with the `postgres` extra)
    instead. `models_dir` is the folder of every project's models; `experiment` and
    `registered_model`, when set, replace the project's names as they are. `currency`
    (INFLUENCE_CURRENCY, or `--currency`) is what the costs are in, for the words of
    results ("clicks per EUR"; none: "per unit cost"); checked where it is used
    (`cost_unit`), so that a bad one never stops what does not speak of cost.
    """

    mlflow_tracking_uri: str | None = None
    mlruns_dir: Path = Path("mlruns")
    models_dir: Path = Path("models")
    experiment: str | None = None
    registered_model: str | None = None
    currency: str | None = None

    @classmethod
    def under(cls, root: Path, project: str = DEFAULT_PROJECT) -> TrainingSettings:
        """Settings that keep everything in one folder: `root/mlruns` (embedded store) and
        `root/models`, whatever the environment says. For workspaces, tests and scripts.

        A relative `root` is the working directory's, made absolute first: resolved against
        the workspace it also names, `workspace/models` would become `workspace/workspace/models`.
        """
        root = Path(root).absolute()
        return cls(
            home=root,
            project=project,
            mlflow_tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            mlruns_dir=root / "mlruns",
            models_dir=root / "models",
        )

    def _resolve(self, workspace: Workspace) -> None:
        self.mlruns_dir = workspace.path(self.mlruns_dir)
        self.models_dir = workspace.path(self.models_dir)

    def project_models_dir(self) -> Path:
        """Where the project's bundles and `champion.json` go: `models/`, or `models/<project>/`."""
        return self.workspace().project_folder(self.models_dir)

    def model_name(self) -> str:
        """The registered model's name: INFLUENCE_REGISTERED_MODEL, else the project's."""
        return self.registered_model or self.workspace().registered_model()

    def experiment_name(self, command: str = "train") -> str:
        """The experiment of a command's runs (`train`, `compare`): the project's, but for
        `train` when INFLUENCE_EXPERIMENT names one."""
        if command == "train" and self.experiment:
            return self.experiment
        return self.workspace().experiment(command)

    def describe(self) -> str:
        """The line a command starts with: the workspace, the project, where its models and
        runs are (a password in the tracking URI shown as `***`)."""
        uri = self.configured_tracking_uri()
        shown = redacted(uri) if "@" in uri else uri
        return (
            f"{self.workspace().describe()}: models in {self.project_models_dir()}, "
            f"runs in {shown}."
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


def settings_problems(error: ValidationError, secret: frozenset[str] = frozenset()) -> str:
    """One sentence per refused variable of a settings class (prefix INFLUENCE_), joined.

    A rule of our own reads after the variable's name (`INFLUENCE_PROJECT 'a b' is not a
    project name: ...`); pydantic's own after its value (`INFLUENCE_THREADS='0': input
    should be ...`), but for the fields in `secret`, whose value is never shown.
    """
    problems = []
    for found in error.errors():
        field = str(found["loc"][0]) if found["loc"] else "?"
        name = f"INFLUENCE_{field.upper()}"
        message = str(found["msg"]).removeprefix("Value error, ")
        if found["type"] != "value_error" and field not in secret:
            name += f"={found['input']!r}:"
            message = message[0].lower() + message[1:]
        problems.append(f"{name} {message}")
    return "; ".join(problems) + "."


def _read(**values: Any) -> TrainingSettings:
    try:
        return TrainingSettings(**values)
    except ValidationError as e:
        raise TrainingError(settings_problems(e)) from None


@lru_cache
def get_settings() -> TrainingSettings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env.

    TrainingError, one sentence per variable, when the environment holds a value they
    refuse (INFLUENCE_PROJECT='acme corp').
    """
    return _read()


def settings_for(project: str | None = None) -> TrainingSettings:
    """The settings of a command given `--project` (None: INFLUENCE_PROJECT or the default).

    The name is checked by the command line first, so that a bad one names the flag.
    """
    return get_settings() if project is None else _read(project=project)
