"""Settings of the serving layer, read from the environment (prefix INFLUENCE_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServingSettings", "get_settings"]


class ServingSettings(BaseSettings):
    """What the API serves and how it protects itself.

    model_uri: a model manifest (default `models/champion.json`, written by
        `influence train`) or a registry URI such as `models:/influence@champion`
        (read through MLflow's tracking settings).
    data_dir: the data directory whose account histories the API knows.
    api_key: when set, every endpoint but /health requires it in `X-API-Key`.
    decision_log: where decisions are recorded: a file path (SQLite) or a
        database URL (`sqlite:///...`, `postgresql://...`).
    """

    model_config = SettingsConfigDict(env_prefix="INFLUENCE_")

    model_uri: str = "models/champion.json"
    data_dir: Path | None = None
    api_key: SecretStr | None = None
    decision_log: str = "decisions.db"
    max_candidates: int = Field(default=5000, ge=1)
    max_history_posts: int = Field(default=5000, ge=1)
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    threads: int = Field(default=2, ge=1, le=64)
    """Large requests (more than 8 candidates, or any history) scored at once per process, in
    the thread pool; small ones are scored on the event loop. Scoring is CPU-bound Python:
    more threads than cores only trade the GIL back and forth (measured: with 40 threads, 16
    clients got less done than one)."""


@lru_cache
def get_settings() -> ServingSettings:
    """The process-wide settings; tests build their own and pass them to `create_app`."""
    return ServingSettings()
