"""The decision log fails fast and in one sentence: locked, read-only, removed while serving,
not a database, or at a path SQLite cannot use; through the API (503) and `influence serve`.

Every log here is a real SQLite file in tmp_path; the lock is another sqlite3 connection's.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.decisions import DecisionLog
from serving.errors import DecisionLogError
from serving.settings import ServingSettings

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture
LOCKED = (
    "database is locked; another connection has held its lock for over a second, so end "
    "that connection (a sqlite3 shell, a backup) or try again."
)


def exactly(sentence: str) -> str:
    """A `match` pattern for the whole of `sentence`, as it is."""
    return f"^{re.escape(sentence)}$"


def record(log: DecisionLog, request_id: str = "r1") -> None:
    log.record(request_id, "predict", "1", "{}", "[]", '{"scores": [], "errors": []}')


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold `BEGIN EXCLUSIVE` on the SQLite file at `path` from another connection."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        other.close()


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    """A decision log with one record, closed again: the file exists and is a database."""
    path = tmp_path / "decisions.db"
    log = DecisionLog(str(path))
    record(log, "first")
    log.close()
    return path


def test_a_locked_log_waits_a_second_then_says_so(log_path: Path) -> None:
    log = DecisionLog(str(log_path))
    try:
        with log.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000
        locked = f"The decision log {log_path} cannot be written: {LOCKED}"
        with exclusive_lock(log_path), pytest.raises(DecisionLogError, match=exactly(locked)):
            record(log)
        record(log)  # the lock gone, the log takes records again
        assert log.count() == 2
    finally:
        log.close()


def test_a_new_log_locked_before_its_table_exists_is_one_sentence(tmp_path: Path) -> None:
    # (A log in WAL mode with its table opens under the lock: opening only reads.)
    path = tmp_path / "decisions.db"
    locked = f"The decision log {path} cannot be opened: {LOCKED}"
    with exclusive_lock(path), pytest.raises(DecisionLogError, match=exactly(locked)):
        DecisionLog(str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write whatever a file's mode says")
def test_an_unwritable_log_is_one_sentence(log_path: Path) -> None:
    log_path.chmod(0o444)
    refused = (
        f"The decision log {log_path} cannot be written: attempt to write a readonly "
        "database; give the service's user write access to it and to its folder."
    )
    log = DecisionLog(str(log_path))
    try:
        with pytest.raises(DecisionLogError, match=exactly(refused)):
            record(log)
    finally:
        log.close()


def test_a_log_opened_read_only_is_one_sentence(log_path: Path) -> None:
    # SQLite's read-only mode refuses writes as a read-only file would, even to root.
    url = f"sqlite:///file:{log_path}?mode=ro&uri=true"
    refused = (
        f"The decision log {url} cannot be written: attempt to write a readonly database; "
        "give the service's user write access to it and to its folder."
    )
    log = DecisionLog(url)
    try:
        with pytest.raises(DecisionLogError, match=exactly(refused)):
            record(log)
    finally:
        log.close()


def test_a_log_removed_while_serving_refuses_records_instead_of_losing_them(
    log_path: Path,
) -> None:
    removed = (
        f"The decision log {log_path} was removed while the service ran; restart the "
        "service to create a new one."
    )
    log = DecisionLog(str(log_path))
    try:
        record(log, "before")
        log_path.unlink()
        with pytest.raises(DecisionLogError, match=exactly(removed)):
            record(log, "after")
    finally:
        log.close()
    assert not log_path.exists()  # not recreated behind the open connections' backs


def test_a_log_replaced_while_serving_refuses_records(log_path: Path, tmp_path: Path) -> None:
    replaced = (
        f"The decision log {log_path} was replaced by another file while the service ran; "
        "restart the service to write to the new one."
    )
    log = DecisionLog(str(log_path))
    try:
        other = tmp_path / "other.db"
        DecisionLog(str(other)).close()
        other.replace(log_path)
        with pytest.raises(DecisionLogError, match=exactly(replaced)):
            record(log)
    finally:
        log.close()


def test_a_file_that_is_not_a_database_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "decisions.db"
    path.write_text("not a database\n" * 100)
    refused = (
        f"The decision log {path} is not a SQLite database (file is not a database); point "
        "INFLUENCE_DECISION_LOG at a new file or move this one away."
    )
    with pytest.raises(DecisionLogError, match=exactly(refused)):
        DecisionLog(str(path))


def test_paths_sqlite_cannot_use_are_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    expected = {
        "absent/decisions.db": f"cannot be created: its folder {tmp_path / 'absent'} does not "
        "exist; create it or point INFLUENCE_DECISION_LOG elsewhere.",
        "a-file/decisions.db": f"cannot be created: its folder {tmp_path / 'a-file'} is a "
        "file, not a folder.",
        "a-folder": "is a folder, not a file; point INFLUENCE_DECISION_LOG at a file, e.g. "
        f"{tmp_path / 'a-folder' / 'decisions.db'}.",
    }
    for name, sentence in expected.items():
        location = str(tmp_path / name)
        with pytest.raises(
            DecisionLogError, match=exactly(f"The decision log {location} {sentence}")
        ):
            DecisionLog(location)
    assert not (tmp_path / "absent").exists()


@pytest.fixture
def api(trained: Path, log_path: Path) -> Iterator[tuple[TestClient, dict[str, object]]]:
    """The API on the trained champion, its decision log at `log_path`, and a valid body."""
    settings = ServingSettings(
        data_dir=trained / "world",
        model_uri=str(trained / "models" / "champion.json"),
        decision_log=str(log_path),
    )
    account = str(load_dataset(trained / "world").placements["account_id"].iloc[0])
    body: dict[str, object] = {
        "campaign": {"brand": "northpeak", "topic": "running shoes marathon"},
        "candidates": [{"account_id": account, "cost": 100.0}],
    }
    with TestClient(create_app(settings)) as client:
        yield client, body


def test_the_api_answers_503_with_the_sentence_when_the_log_is_locked(
    api: tuple[TestClient, dict[str, object]], log_path: Path
) -> None:
    client, body = api
    assert client.post("/predict", json=body).status_code == 200
    with exclusive_lock(log_path):
        for endpoint, extra in (("/predict", {}), ("/rank", {"budget": 500.0})):
            r = client.post(endpoint, json={**body, **extra})
            assert r.status_code == 503
            assert r.json() == {
                "detail": f"The decision log {log_path} cannot be written: {LOCKED}"
            }


def test_the_api_answers_503_once_the_log_is_removed(
    api: tuple[TestClient, dict[str, object]], log_path: Path
) -> None:
    client, body = api
    assert client.get("/health").status_code == 200
    log_path.unlink()
    r = client.post("/predict", json=body)
    assert r.status_code == 503
    assert "was removed while the service ran; restart the service" in r.json()["detail"]
    # /health says so too, so that an orchestrator restarts the service.
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json() == {
        "status": "unavailable",
        "model_version": None,
        "reason": f"The decision log {log_path} was removed while the service ran; "
        "restart the service to create a new one",
    }


def test_serve_exits_1_with_one_line_when_the_log_is_not_a_database(
    influence_cli: Cli, small_csv_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.db"
    path.write_text("not a database\n")
    result = influence_cli(
        "serve", "--data", small_csv_dir, env={"INFLUENCE_DECISION_LOG": str(path)}
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: The decision log {path} is not a SQLite database (file is not a database); "
        "point INFLUENCE_DECISION_LOG at a new file or move this one away.\n"
    )
    assert result.stdout == ""
