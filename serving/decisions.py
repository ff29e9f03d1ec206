"""The decision log: every /predict and /rank answer, recorded before it is returned.

Outcomes arrive weeks later; joining them to what the model said, and when, is how
a brand audits the model. One row per answered request, written in its own
transaction: a record is either fully committed or absent. SQLite by default (a
file beside the service); any SQLAlchemy database URL by configuration, PostgreSQL
(`postgresql://...`, with the `postgres` extra) for replicas that share one log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from serving.errors import ServingError
from training.database import connect

__all__ = ["DecisionLog", "DecisionLogError", "database_url"]

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


class DecisionLogError(ServingError):
    """The decision log cannot be opened: its driver is missing or its database unreachable."""

    status_code = 503


def database_url(location: str) -> str:
    """The URL for `INFLUENCE_DECISION_LOG`: URLs pass through, paths become SQLite.

    A plain `postgresql://` URL is given its driver when the log connects
    (`training.database.sqlalchemy_url`, the same rule as the MLflow store's).
    """
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
        """Open (and on first use create) the log at a path or URL; DecisionLogError, one
        sentence, when its driver is missing or its database cannot be reached."""
        url = database_url(location)
        sqlite = url.startswith("sqlite")
        self.engine: Engine = connect(
            url, "The decision log", "INFLUENCE_DECISION_LOG", DecisionLogError, pool_pre_ping=True
        )
        if sqlite:
            # The probe connection predates the listener: drop it so that every pooled
            # connection gets the pragmas.
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()
        try:
            _metadata.create_all(self.engine)
        except (ProgrammingError, IntegrityError):
            # Replicas starting together race between "is there a table?" and CREATE TABLE;
            # the loser's CREATE fails (PostgreSQL: duplicate table, or a unique violation in
            # its catalogue). Checking again finds the winner's table; any other cause fails
            # again and propagates.
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
