"""The decision log: every /predict and /rank answer, recorded before it is returned.

Outcomes arrive weeks later; joining them to what the model said, and when, is how
a brand audits the model. One row per answered request, written in its own
transaction: a record is either fully committed or absent. SQLite by default (a
file beside the service); any SQLAlchemy database URL, PostgreSQL included, by
configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine

__all__ = ["DecisionLog", "database_url"]

_metadata = MetaData()
decisions = Table(
    "decisions",
    _metadata,
    Column("request_id", String(64), primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("campaign", Text, nullable=False),
    Column("candidates", Text, nullable=False),
    Column("outputs", Text, nullable=False),
)


def database_url(location: str) -> str:
    """A SQLAlchemy URL for a configured location: URLs pass through, paths become SQLite."""
    return location if "://" in location else f"sqlite:///{location}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (and a crashed writer's successor) see every committed record. In
    # WAL mode, synchronous=NORMAL keeps every commit through a crash or kill of the
    # process; only a power cut can lose the last ones, and it saves an fsync per request.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class DecisionLog:
    """Append-only store of decisions; safe to share between threads and processes."""

    def __init__(self, location: str) -> None:
        url = database_url(location)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _metadata.create_all(self.engine)

    def record(
        self,
        request_id: str,
        endpoint: str,
        model_version: str,
        campaign: str,
        candidates: str,
        outputs: str,
    ) -> None:
        """Commit one decision; raises if the database refuses it (the request then fails).

        `campaign`, `candidates` and `outputs` are JSON texts, encoded by the caller
        (the API's pydantic models serialise themselves faster than `json` can).
        """
        row = {
            "request_id": request_id,
            "created_at": datetime.now(UTC).isoformat(),
            "endpoint": endpoint,
            "model_version": model_version,
            "campaign": campaign,
            "candidates": candidates,
            "outputs": outputs,
        }
        with self.engine.begin() as conn:
            conn.execute(decisions.insert().values(**row))

    def count(self) -> int:
        """How many decisions are recorded."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
