"""Settings of the serving layer, read from the environment (prefix INFLUENCE_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode

from features.headers import ReadOptions, read_options
from serving.errors import SettingsError
from training.settings import TrainingSettings, WorkspaceSettings, settings_problems
from training.tracking.database import redacted
from training.workspace import CHAMPION_MANIFEST, Workspace

__all__ = ["ServingSettings", "SettingsError", "get_settings", "read_settings"]


class ServingSettings(WorkspaceSettings):
    """What the API serves and how it protects itself.

    home, project: the workspace root (INFLUENCE_HOME, default the working directory)
        and the brand or client served (INFLUENCE_PROJECT, default `influence`), as in
        `training.settings.TrainingSettings`: every relative path below is resolved
        against `home` when the settings are read, and the defaults of `model_uri` and
        `decision_log` are the project's (`training.workspace`).
    model_uri: a model manifest (default the project's champion, `models/champion.json`
        or `models/<project>/champion.json`, written by `influence train`) or a registry
        URI such as `models:/influence@champion` (read through MLflow's tracking settings).
    data_dir: the data directory whose account histories the API knows, read whole at
        start-up and on each reload.
    snapshot_dir: a snapshot materialized from such a directory (`influence materialize`,
        or `influence train --promote` beside the champion's bundle), read instead:
        start-up and reload read no post. With neither set, the champion's own snapshot
        (`models/influence-vN.snapshot`) when training wrote one (`serving.sources`).
    columns_file: a TOML file mapping the exports' headers to the contract's columns
        (`--columns`, docs/data-contract.md); dayfirst: read dates such as 25/03/2026
        as day/month/year (`--dayfirst`). Both say how `data_dir` is read.
    api_key: when set, every endpoint but /health and signing in requires it in
        `X-API-Key`, or the session cookie a browser gets by signing in with it at
        /app/login; the docs and the OpenAPI schema included. An empty key is
        refused: it would read as "no key" to some tools and as a key to others.
    decision_log: where decisions are recorded: a file path (SQLite; default the
        project's, `decisions.db` or `decisions-<project>.db`) or a database URL
        (`sqlite:///...`, `postgresql://...`), used as written.
    cors_origins: origins allowed to call the API from a browser, separated by
        commas (`https://a.example,https://b.example`).

    The limits below bound what one request can cost; README "Hardening" lists them.
    """

    model_uri: str = "models/champion.json"
    data_dir: Path | None = None
    snapshot_dir: Path | None = None
    columns_file: Path | None = None
    dayfirst: bool = False
    api_key: SecretStr | None = None
    decision_log: str = "decisions.db"
    max_candidates: int = Field(default=5000, ge=1)
    max_history_posts: int = Field(default=5000, ge=1)
    """Posts in one candidate's `history`."""
    max_request_history_posts: int = Field(default=50_000, ge=1)
    """Posts in all the histories of one request together."""
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    max_in_flight: int = Field(default=16, ge=1, le=1024)
    """Request bodies received or being answered at once; more are refused with 503."""
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How long a client may take to send its body before it is refused with 408."""
    reload_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    """How long /admin/reload may load before it gives up and keeps the old model."""
    backtest_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    """How long `/model` and `/app/model` wait for the latest backtest from MLflow before
    they answer without it, saying why (`serving.backtest`)."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    threads: int = Field(default=2, ge=1, le=64)
    """Large requests (more than 8 candidates, or any history) scored at once per process, in
    the thread pool; small ones are scored on the event loop. Scoring is CPU-bound Python:
    more threads than cores only trade the GIL back and forth (measured: with 40 threads, 16
    clients got less done than one)."""

    def _resolve(self, workspace: Workspace) -> None:
        # The flags' paths arrive absolute; the environment's are the workspace's.
        if "model_uri" not in self.model_fields_set:
            self.model_uri = str(self.training().project_models_dir() / CHAMPION_MANIFEST)
        elif not self.model_uri.startswith("models:/"):
            self.model_uri = str(workspace.path(Path(self.model_uri)))
        if "decision_log" not in self.model_fields_set:
            self.decision_log = str(workspace.project_file("decisions", ".db"))
        elif "://" not in self.decision_log:
            self.decision_log = str(workspace.path(Path(self.decision_log)))
        if self.data_dir is not None:
            self.data_dir = workspace.path(self.data_dir)
        if self.snapshot_dir is not None:
            self.snapshot_dir = workspace.path(self.snapshot_dir)
        if self.columns_file is not None:
            self.columns_file = workspace.path(self.columns_file)

    def training(self) -> TrainingSettings:
        """The training settings of the same workspace and project, the rest from the
        environment: where the project's champion and its MLflow runs (its backtests) are."""
        return TrainingSettings(home=self.home, project=self.project)

    def describe(self, decisions: bool = True) -> str:
        """The line `serve` (and, without `decisions`, `predict`) starts with: the
        workspace, the project, the model and the decision log (passwords as `***`)."""
        log = self.decision_log
        shown = redacted(log) if "://" in log else log
        where = f", decisions in {shown}" if decisions else ""
        return f"{self.workspace().describe()}: model {self.model_uri}{where}."

    def read_options(self) -> ReadOptions:
        """How `data_dir` is read (`features.headers.ReadOptions`), from `columns_file` and
        `dayfirst`; DataContractError when the columns file is broken."""
        return read_options(self.columns_file, self.dayfirst)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # Environment text is a comma-separated list, as an operator writes it; JSON
        # would make `https://a.example` alone an "error parsing value".
        if isinstance(value, str):
            value = [origin.strip() for origin in value.split(",") if origin.strip()]
        if isinstance(value, list):
            for origin in value:
                if isinstance(origin, str) and (
                    len(origin.split()) > 1 or (origin != "*" and origin.count("://") != 1)
                ):
                    raise ValueError(
                        f"has {origin!r}, which is not one origin such as https://app.example; "
                        "separate origins with commas"
                    )
        return value

    @field_validator("api_key")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty; set a real key or unset the variable to run without one")
        return value


def read_settings(**values: Any) -> ServingSettings:
    """The settings from the environment, or SettingsError in one sentence per variable.

    `influence serve` calls this before starting uvicorn, so that `INFLUENCE_THREADS=0`
    is a sentence naming the variable and the rule, not a traceback from each worker;
    `influence predict` with its flags as `values`, which win over the environment.
    """
    try:
        return ServingSettings(**values)
    except ValidationError as e:
        raise SettingsError(settings_problems(e, secret=frozenset({"api_key"}))) from None


@lru_cache
def get_settings() -> ServingSettings:
    """The process-wide settings; tests build their own and pass them to `create_app`."""
    return read_settings()
