"""The decision log: every /predict and /rank answer, recorded before it is returned.

Outcomes arrive weeks later; joining them to what the model said, and when, is how
a brand audits the model. One row per answered request, written in its own
transaction: a record is either fully committed or absent. SQLite by default (a
file beside the service); any SQLAlchemy database URL by configuration, PostgreSQL
(`postgresql://...`, with the `postgres` extra) for replicas that share one log.

A log that cannot take a record fails fast and in one sentence: DecisionLogError names
the log and the database's reason, so the API answers 503 with it and `influence serve`
exits 1 with it, instead of a request waiting on a lock or an internal error.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from serving.errors import DecisionLogError
from training.tracking.database import connect, driver_reason, redacted

__all__ = ["DecisionLog", "DecisionLogError", "database_url"]

BUSY_TIMEOUT_MS = 1000
"""How long a SQLite write waits for another connection's lock. Records are short, so a
lock held longer is another program's (a `sqlite3` shell, a backup), and a request had
better fail in a second than hang while it lasts."""

_SETTING = "INFLUENCE_DECISION_LOG"
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
    """The URL for `INFLUENCE_DECISION_LOG`: URLs pass through, paths become SQLite.

    A plain `postgresql://` URL is given its driver when the log connects
    (`training.tracking.database.sqlalchemy_url`, the same rule as the MLflow store's).
    """
    return location if "://" in location else f"sqlite:///{location}"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (absolute), or None for an in-memory database or another
    database. `sqlite:///file:PATH?mode=ro&uri=true` names PATH."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if parsed.query.get("uri") == "true":
        if parsed.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    if database in ("", ":memory:"):
        return None
    return Path(database).absolute()


# What a user can do about SQLite's reasons, by a word of the reason; PostgreSQL's reasons
# name their cause plainly enough on their own.
_ADVICE = (
    (
        "locked",
        "another connection has held its lock for over a second, so end that connection "
        "(a sqlite3 shell, a backup) or try again",
    ),
    ("readonly", "give the service's user write access to it and to its folder"),
    ("disk i/o", "check the disk it is on"),
    ("full", "free space on its disk"),
    ("unable to open", "check that its folder exists and that the service's user may write there"),
    ("malformed", f"restore it from a backup, or point {_SETTING} at a new file"),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (and a crashed writer's successor) see every committed record. In
    # WAL mode, synchronous=NORMAL keeps every commit through a crash or kill of the
    # process; only a power cut can lose the last ones, and it saves an fsync per request.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


class DecisionLog:
    """Append-only store of decisions; safe to share between threads and processes."""

    def __init__(self, location: str) -> None:
        """Open (and on first use create) the log at a path or URL.

        DecisionLogError, one sentence, when its driver is missing, its database cannot be
        reached, a SQLite path is a folder or lies in a folder that does not exist, the file
        there is not a SQLite database, or the table cannot be created.
        """
        url = database_url(location)
        self._file = sqlite_file(url)
        # Named as the user wrote it, but for a password.
        self.name = f"The decision log {location}"
        if "://" in location and self._file is None:  # a server's URL may hold a password
            self.name = f"The decision log at {redacted(location)}"
        if self._file is not None:
            self._refuse_unusable_path(self._file)
        try:
            self.engine: Engine = connect(
                url, "The decision log", _SETTING, DecisionLogError, pool_pre_ping=True
            )
        except DecisionLogError as e:
            # connect's sentence is about servers ("... and that the database is running");
            # a SQLite file's reason reads better with advice about files.
            if self._file is None or not isinstance(e.__cause__, DBAPIError):
                raise
            raise self._failure("cannot be opened", e.__cause__) from e.__cause__
        if url.startswith("sqlite"):
            # The probe connection predates the listener: drop it so that every pooled
            # connection gets the pragmas.
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()
        try:
            self._create_table()
        except DBAPIError as e:
            self.engine.dispose()
            raise self._failure("cannot be opened", e) from e
        # The file's identity at open, to tell later whether it is still the one at its path.
        self._identity = self._file_identity()

    def _create_table(self) -> None:
        try:
            _metadata.create_all(self.engine)
        except (ProgrammingError, IntegrityError):
            # Replicas starting together race between "is there a table?" and CREATE TABLE;
            # the loser's CREATE fails (PostgreSQL: duplicate table, or a unique violation in
            # its catalogue). Checking again finds the winner's table; any other cause fails
            # again and propagates.
            _metadata.create_all(self.engine)

    def _refuse_unusable_path(self, path: Path) -> None:
        """DecisionLogError when SQLite could not make a database at `path`: SQLite's own
        reason for both cases below is "unable to open database file", which names neither."""
        if path.is_dir():
            raise DecisionLogError(
                f"{self.name} is a folder, not a file; point {_SETTING} at a file, "
                f"e.g. {path / 'decisions.db'}."
            )
        if not path.parent.is_dir():
            problem = (
                "is a file, not a folder"
                if path.parent.exists()
                else f"does not exist; create it or point {_SETTING} elsewhere"
            )
            raise DecisionLogError(
                f"{self.name} cannot be created: its folder {path.parent} {problem}."
            )

    def _failure(self, what: str, error: DBAPIError) -> DecisionLogError:
        """One sentence for a database error: the log, `what` went wrong, the database's
        reason and, for the reasons a user can act on, what to do."""
        reason = driver_reason(error).rstrip(".")
        if "not a database" in reason:
            return DecisionLogError(
                f"{self.name} is not a SQLite database ({reason}); point {_SETTING} at a new "
                "file or move this one away."
            )
        advice = next((a for word, a in _ADVICE if word in reason.lower()), None)
        return DecisionLogError(
            f"{self.name} {what}: {reason}" + (f"; {advice}." if advice else ".")
        )

    def _file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the SQLite file now at the log's path; None for other logs.

        Raises DecisionLogError when the file (or its folder) is gone from its path, or
        cannot be looked at.
        """
        if self._file is None:
            return None
        try:
            status = os.stat(self._file)
        except (FileNotFoundError, NotADirectoryError):
            raise DecisionLogError(
                f"{self.name} was removed while the service ran; restart the service to "
                "create a new one."
            ) from None
        except OSError as e:
            raise DecisionLogError(f"{self.name} cannot be looked at: {e.strerror}.") from e
        return status.st_dev, status.st_ino

    def check(self) -> None:
        """DecisionLogError when the SQLite file opened is no longer the one at its path
        (a stat, no query: /health calls it so that an orchestrator restarts the service).

        SQLite keeps writing to a deleted (or renamed-over) file, so records would land
        where nobody can read them. The log does not recreate the file under its open
        connections: they, any record in flight on another thread and the -wal and -shm
        files beside it all belong to the old file, and a new file next to them risks
        mixing two databases' pages. Failing makes the loss visible at once, and a restart
        opens everything afresh.
        """
        if self._file_identity() != self._identity:
            raise DecisionLogError(
                f"{self.name} was replaced by another file while the service ran; restart "
                "the service to write to the new one."
            )

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
        DecisionLogError, one sentence, when the database cannot take the record (locked,
        read-only, unreachable, a failing disk) or a SQLite file was removed; the file is
        checked again after the commit, since a removal while writing loses the record.
        An IntegrityError (a request id recorded twice) is a bug and propagates.
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
        self.check()
        try:
            with self.engine.begin() as conn:
                conn.execute(decisions.insert().values(**row))
        except IntegrityError:
            raise
        except DBAPIError as e:
            raise self._failure("cannot be written", e) from e
        self.check()

    def count(self) -> int:
        """How many decisions are recorded."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
