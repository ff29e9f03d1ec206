"""Database URLs as users write them, and one plain sentence when a database cannot be used.

Two stores take a SQLAlchemy URL: MLflow's backend (this layer) and the decision log
(serving). A user writes `postgresql://...` (or `postgres://...`); SQLAlchemy before 2.1
reads that as psycopg2, which influence does not install, and MLflow refuses `postgres`.
Both layers normalise through `sqlalchemy_url`, so one plain URL works for both, and both
open their database through `connect`, each raising its own error class.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

__all__ = [
    "DATABASE_SCHEMES",
    "connect",
    "driver_reason",
    "is_database_url",
    "redacted",
    "sqlalchemy_url",
]

DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
"""The databases MLflow's SQLAlchemy store accepts (`mlflow.store.db.db_types`)."""

_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
CONNECT_TIMEOUT_S = 10
"""How long a PostgreSQL connection may take: libpq would otherwise wait on an unanswering
host for as long as the operating system lets it."""


def _scheme(url: str) -> tuple[str, str]:
    """(dialect, driver) of a URL, lower case; ("", "") for a path."""
    scheme, sep, _ = url.partition("://")
    dialect, _, driver = scheme.lower().partition("+")
    return (dialect, driver) if sep else ("", "")


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy and MLflow should get for a URL a user wrote.

    `postgresql://` and `postgres://` without a driver become `postgresql+psycopg://`
    (psycopg 3, the `postgres` extra); every other URL, or a path, is returned unchanged.
    """
    dialect, driver = _scheme(url)
    if dialect in _POSTGRES_SCHEMES and not driver:
        return "postgresql+psycopg://" + url.partition("://")[2]
    return url


def is_database_url(url: str) -> bool:
    """Whether `url` names a SQLAlchemy database MLflow can use as its store (not a server)."""
    return _scheme(url)[0] in DATABASE_SCHEMES


def redacted(url: str) -> str:
    """`url` with its password replaced by `***`, fit for an error message or a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.partition("://")[0] + "://..."


def driver_reason(error: DBAPIError) -> str:
    """The driver's own reason, short: libpq's "connection to server at ..., port N failed: X"
    becomes X, and PostgreSQL's "FATAL:  " prefix goes."""
    first = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else "no reason"
    reason = first.rpartition(" failed: ")[2] if " failed: " in first else first
    return reason.removeprefix("FATAL:").strip()


def connect(url: str, what: str, setting: str, error: type[Exception], **options: Any) -> Engine:
    """An engine for `url` that has connected once, or `error` with one plain sentence.

    `what` names the store in the sentence ("The decision log"), `setting` the variable
    that configures it; `options` go to `create_engine`. A missing driver and a database
    that cannot be reached are the two failures a user can fix, so they are the two this
    turns into `error`; anything else propagates as it is.
    """
    where = f"{what} at {redacted(url)}"  # as the user wrote it
    url = sqlalchemy_url(url)
    dialect, _ = _scheme(url)
    if dialect == "postgresql":
        options.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        engine = create_engine(url, **options)
    except ImportError as e:
        if dialect == "postgresql":
            raise error(
                f"{where} needs the PostgreSQL driver psycopg, which is not installed: "
                "pip install 'influence[postgres]'."
            ) from e
        raise error(f"{where} needs a database driver that is not installed ({e}).") from e
    try:
        with engine.connect():
            pass
    except DBAPIError as e:
        engine.dispose()
        raise error(
            f"{where} cannot be reached ({driver_reason(e)}); check {setting} "
            "and that the database is running."
        ) from e
    return engine
