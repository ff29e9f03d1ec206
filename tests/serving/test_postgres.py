"""The decision log on a real PostgreSQL server: concurrent writers in threads and processes,
two API replicas sharing one log under load, and one sentence when it cannot be opened.

The server comes from `INFLUENCE_TEST_POSTGRES_URL` (`.ci/postgres.sh` starts one); each test
gets its own new database. Run as a script, this file is the writer process of the test below.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from serving.decisions import DecisionLog, decisions

ServerFactory = Callable[[str | Path, int], subprocess.Popen[str]]  # the `start_server` fixture
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data"


def write(log: DecisionLog, prefix: str, n: int) -> None:
    """Record n decisions with request ids PREFIX-0000, PREFIX-0001, ..."""
    for i in range(n):
        log.record(
            request_id=f"{prefix}-{i:04d}",
            endpoint="predict",
            model_version="1",
            campaign=json.dumps({"brand": "northpeak", "topic": "running"}),
            candidates=json.dumps([{"account_id": "a1", "cost": 120.0}]),
            outputs=json.dumps({"scores": [], "errors": []}),
        )


def logged_ids(url: str) -> list[str]:
    """Every request id in the log at `url`, once per record."""
    log = DecisionLog(url)
    try:
        with log.engine.connect() as conn:
            return list(conn.execute(select(decisions.c.request_id)).scalars())
    finally:
        log.close()


def test_writers_in_threads_and_processes_record_every_decision_exactly_once(
    postgres_url: str,
) -> None:
    n, threads, processes = 150, 4, 2
    # Everyone opens the log at the same moment on an empty database, so that they also race
    # to create its table, as replicas starting together do.
    start = time.time() + 3.0
    children = [
        subprocess.Popen(
            [sys.executable, __file__, postgres_url, f"process{k}", str(n), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    time.sleep(max(0.0, start - time.time()))
    log = DecisionLog(postgres_url)  # one engine shared by threads, as in the service
    # The plain URL got psycopg 3 explicitly (SQLAlchemy 2.0 would look for psycopg2).
    assert log.engine.url.drivername == "postgresql+psycopg"
    try:
        workers = [
            threading.Thread(target=write, args=(log, f"thread{k}", n)) for k in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        assert not any(w.is_alive() for w in workers)
    finally:
        log.close()
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err

    ids = logged_ids(postgres_url)
    prefixes = [f"thread{k}" for k in range(threads)] + [f"process{k}" for k in range(processes)]
    expected = {f"{p}-{i:04d}" for p in prefixes for i in range(n)}
    assert len(ids) == (threads + processes) * n == 900
    assert set(ids) == expected


def call(base: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, object]]:
    """GET (no body) or POST JSON to base+path; the status and the decoded answer."""
    req = urllib.request.Request(
        base + path, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_until_healthy(servers: list[subprocess.Popen[str]], bases: list[str]) -> None:
    """Return once every server answers /health with 200; fail if one exits or 90 s pass."""
    deadline = time.monotonic() + 90
    waiting = list(zip(servers, bases, strict=True))
    while waiting:
        server, base = waiting[0]
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            if call(base, "/health")[0] == 200:
                waiting.pop(0)
                continue
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{base} did not become ready in 90 s"
        time.sleep(0.3)


@pytest.mark.slow
def test_two_api_replicas_share_one_postgresql_log_under_load(
    start_server: ServerFactory, free_ports: Callable[[int], list[int]], postgres_url: str
) -> None:
    bases = [f"http://127.0.0.1:{port}" for port in free_ports(2)]
    servers = [start_server(postgres_url, int(base.rpartition(":")[2])) for base in bases]
    answers: list[tuple[str, int, str]] = []  # (server, status, request id or detail)
    lock = threading.Lock()
    try:
        wait_until_healthy(servers, bases)
        ready_line = servers[0].stdout.readline() if servers[0].stdout else ""
        body = ready_line.split("-d '", 1)[1].rsplit("'", 1)[0].encode()

        def client(k: int, until: float, most: int) -> None:
            for i in range(most):
                if time.monotonic() > until:
                    return
                base = bases[(k + i) % 2]  # alternate replicas, as a load balancer would
                status, answer = call(base, "/predict", body)
                with lock:
                    answers.append((base, status, str(answer.get("request_id", answer))))

        until = time.monotonic() + 4.0
        clients = [threading.Thread(target=client, args=(k, until, 40)) for k in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=120)
    finally:
        for server in servers:
            server.terminate()
            server.communicate(timeout=30)

    assert [a for a in answers if a[1] != 200] == []
    per_server = Counter(base for base, _, _ in answers)
    assert set(per_server) == set(bases), per_server
    answered = [request_id for _, _, request_id in answers]
    ids = logged_ids(postgres_url)
    assert len(answered) > 16
    # Every answer's request id is in the log exactly once, and nothing else is.
    assert sorted(ids) == sorted(answered)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("hide_driver", "problem"),
    [
        (
            True,
            "needs the PostgreSQL driver psycopg, which is not installed: "
            "pip install 'influence[postgres]'.",
        ),
        # Nothing listens on a free port: the connection is refused at once.
        (
            False,
            "cannot be reached (Connection refused); check INFLUENCE_DECISION_LOG and that the "
            "database is running.",
        ),
    ],
    ids=["missing driver", "unreachable"],
)
def test_a_log_that_cannot_be_opened_stops_serve_with_one_sentence(
    free_port: int, hide_driver: bool, problem: str
) -> None:
    # `influence serve` as a real process, which must stop at once. Hiding psycopg (None in
    # sys.modules is Python's own way to block an import) stands for an install without the
    # `postgres` extra.
    code = "import sys; sys.modules['psycopg'] = None\n" if hide_driver else ""
    code += "from serving.cli import main\nmain()"
    url = f"postgresql://someone:secret@127.0.0.1:{free_port}/decisions"
    done = subprocess.run(
        [sys.executable, "-c", code, "serve", "--data", str(EXAMPLE), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin", "INFLUENCE_DECISION_LOG": url},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: The decision log at postgresql://someone:***@127.0.0.1:{free_port}/decisions "
        f"{problem}\n"
    )


if __name__ == "__main__":
    # The writer process of the first test: URL PREFIX N START (a time.time() to wait for).
    url, prefix, count, at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    time.sleep(max(0.0, at - time.time()))
    process_log = DecisionLog(url)
    write(process_log, prefix, count)
    process_log.close()
