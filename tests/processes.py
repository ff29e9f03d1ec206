"""The suite's process and server fixtures: the `influence` CLI as a real process, the
service started on a free port (and waited for), training processes to kill, free ports,
MLflow's process-wide URI, and the PostgreSQL test database. Imported into tests/conftest.py,
which is where pytest finds them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from training.tracking.database import sqlalchemy_url

ROOT = Path(__file__).resolve().parents[1]

Cli = Callable[..., "subprocess.CompletedProcess[str]"]


class ServerFactory(Protocol):
    """The `start_server` fixture."""

    def __call__(
        self, decision_log: str | Path, port: int, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]: ...


@pytest.fixture(scope="session")
def influence_cli() -> Cli:
    """Run `influence ARGS...` as a real process (in `cwd`, with the variables `env` besides
    COLUMNS and PATH, if given); returns it finished."""

    def run(
        *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "serving", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            env={"COLUMNS": "400", "PATH": "/usr/bin:/bin", **(env or {})},
            cwd=cwd,
        )

    return run


@pytest.fixture
def global_tracking_uri() -> Iterator[Callable[[str], None]]:
    """`global_tracking_uri(uri)` sets MLflow's process-wide tracking URI (and the
    MLFLOW_TRACKING_URI variable it mirrors), as a user's script would; put back as it was
    (unset included) after the test. The library never sets it: only tests and users do."""
    import mlflow

    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    yield mlflow.set_tracking_uri
    mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_ports() -> Callable[[int], list[int]]:
    """`free_ports(n)`: n distinct free TCP ports on 127.0.0.1 (all held until all are picked,
    so that none is handed out twice)."""

    def pick(n: int) -> list[int]:
        sockets = [socket.socket() for _ in range(n)]
        try:
            for s in sockets:
                s.bind(("127.0.0.1", 0))
            return [int(s.getsockname()[1]) for s in sockets]
        finally:
            for s in sockets:
                s.close()

    return pick


@pytest.fixture(scope="session")
def start_server(trained: Path) -> ServerFactory:
    """Start `influence serve` on the trained workspace; the caller stops it.

    Takes the decision log (a path or a database URL), the port and, optionally,
    further environment variables (INFLUENCE_ settings); stdout and stderr are pipes.
    The process imports this checkout's code, whatever the environment installed.
    """

    def start(
        decision_log: str | Path, port: int, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serving",
                "serve",
                "--data",
                str(trained / "world"),
                "--port",
                str(port),
                "--model",
                str(trained / "models" / "champion.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "INFLUENCE_DECISION_LOG": str(decision_log),
                **(env or {}),
            },
        )

    return start


class RunningServer(Protocol):
    """The `running_server` fixture."""

    def __call__(
        self, decision_log: str | Path, env: dict[str, str] | None = None
    ) -> AbstractContextManager[tuple[str, subprocess.Popen[str]]]: ...


@pytest.fixture(scope="session")
def running_server(start_server: ServerFactory) -> RunningServer:
    """`with running_server(decision_log, env) as (base, process):` the `start_server`
    process on a free port of 127.0.0.1, once its /health answers 200 (within 60 s); `base`
    is `http://127.0.0.1:PORT`. Stopped on leaving (SIGTERM, then SIGKILL after 20 s)."""

    @contextmanager
    def run(
        decision_log: str | Path, env: dict[str, str] | None = None
    ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        process = start_server(decision_log, port, env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=5):
                        break
                except OSError:  # not listening yet, or a 503 while it loads
                    pass
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not become ready in 60 s"
                time.sleep(0.2)
            yield base, process
        finally:
            process.terminate()
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()

    return run


TrainFactory = Callable[[Path, int], "subprocess.Popen[str]"]


@pytest.fixture(scope="session")
def start_training() -> TrainFactory:
    """Start `influence train WORKSPACE/world --targets clicks --seed SEED`; the caller waits.

    Takes the workspace and the seed. The run has the workspace's own embedded MLflow
    store (`mlruns/`) and `models/`, runs in the workspace, and has its stdout and stderr
    as pipes. One target keeps a run to seconds.
    """

    def start(workspace: Path, seed: int) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "INFLUENCE_MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlruns' / 'mlflow.db'}",
            "INFLUENCE_MLRUNS_DIR": str(workspace / "mlruns"),
            "INFLUENCE_MODELS_DIR": str(workspace / "models"),
            "COLUMNS": "200",
        }
        command = [sys.executable, "-m", "serving", "train", str(workspace / "world")]
        return subprocess.Popen(
            [*command, "--targets", "clicks", "--seed", str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=workspace,
        )

    return start


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The test server's URL (`INFLUENCE_TEST_POSTGRES_URL`), as a user allowed to create
    databases; skips the test where there is none."""
    url = os.environ.get("INFLUENCE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "PostgreSQL tests need a server and INFLUENCE_TEST_POSTGRES_URL is not set: "
            ".ci/run starts one with .ci/postgres.sh (as root), or run "
            "`bash .ci/postgres.sh .venv/bin/python -m pytest ...`."
        )
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards, so that runs and tests
    never see each other's rows. Its URL is plain `postgresql://`, as a user would write it."""
    name = f"influence_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sqlalchemy_url(postgres_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE: a server or writer a failed test left behind must not keep it alive.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
