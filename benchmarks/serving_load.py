"""The serving benchmarks' client side: keep-alive HTTP clients that time each request,
one client in sequence or many at once for a fixed time, the results as table rows, and
servers started in their own process group, waited for and stopped.

Used by benchmarks/bench_serving.py (imported as a sibling: a script's folder is on its path).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 60.0


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


@dataclass(frozen=True)
class Result:
    """One row of the table."""

    server: str
    scenario: str
    latencies_ms: list[float]
    seconds: float

    @property
    def requests(self) -> int:
        """How many requests were answered."""
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return float(np.percentile(self.latencies_ms, q))

    @property
    def rate(self) -> float:
        """Requests answered per second of wall time."""
        return self.requests / self.seconds

    def row(self) -> str:
        """The result as a Markdown table row."""
        return (
            f"| {self.server} | {self.scenario} | {self.requests:,} | "
            f"{self.percentile(50):.1f} | {self.percentile(99):.1f} | {self.rate:,.0f} |"
        )


@dataclass(frozen=True)
class Call:
    """One HTTP request to repeat: where it goes and its body."""

    port: int
    path: str
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection: one client."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; return the status and the response body."""
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def timed(self, call: Call) -> float:
        """POST `call` and return its latency in ms; raise unless the answer is 200."""
        start = time.perf_counter()
        status, data = self.post(call.path, call.body)
        elapsed = (time.perf_counter() - start) * 1000
        if status != 200:
            raise BenchmarkError(f"POST {call.path} answered {status}: {data[:300]!r}")
        return elapsed

    def close(self) -> None:
        """Close the socket."""
        self.conn.close()


def sequential(call: Call, n: int, warmup: int) -> tuple[list[float], float]:
    """One client, `n` requests one after another (after `warmup` unmeasured ones)."""
    conn = Connection(call.port)
    try:
        for _ in range(warmup):
            conn.timed(call)
        start = time.perf_counter()
        latencies = [conn.timed(call) for _ in range(n)]
        return latencies, time.perf_counter() - start
    finally:
        conn.close()


def concurrent(call: Call, clients: int, seconds: float) -> tuple[list[float], float]:
    """`clients` threads, each with its own connection, sending requests for `seconds`."""
    per_client: list[list[float]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    clock = [0.0, 0.0]  # start, deadline: set once, when every client has connected

    def start() -> None:
        clock[0] = time.perf_counter()
        clock[1] = clock[0] + seconds

    go = threading.Barrier(clients, action=start, timeout=REQUEST_TIMEOUT_S)

    def client(latencies: list[float]) -> None:
        conn = Connection(call.port)
        try:
            conn.timed(call)  # open the connection before the clock starts
            go.wait()
            while time.perf_counter() < clock[1]:
                latencies.append(conn.timed(call))
        except threading.BrokenBarrierError as e:
            failures.append(e)
        except Exception as e:  # reported by the calling thread
            failures.insert(0, e)
            go.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(lat,), daemon=True) for lat in per_client]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 2 * REQUEST_TIMEOUT_S)
    elapsed = time.perf_counter() - clock[0]
    if failures:
        raise BenchmarkError(f"a client failed: {failures[0]!r}") from failures[0]
    if any(t.is_alive() for t in threads):
        raise BenchmarkError("a client did not finish in time")
    return [x for lat in per_client for x in lat], elapsed


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def run(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
    """Run a command to completion; raise with the tail of its output if it fails."""
    with open(log, "wb") as out:
        rc = subprocess.run(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=900
        ).returncode
    if rc != 0:
        raise BenchmarkError(f"{' '.join(args[:4])} ... exited {rc}:\n{tail(log)}")


def tail(log: Path, lines: int = 25) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def server(
    name: str, args: list[str], env: dict[str, str], cwd: Path, ready_path: str, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server in its own process group, wait until it is ready, stop it after."""
    log = cwd / f"{name}.log"
    out = open(log, "wb")  # noqa: SIM115 - closed in finally, after the process ends
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(name, proc, port, ready_path, log)
        yield proc
    finally:
        stop(proc)
        out.close()


def wait_ready(name: str, proc: subprocess.Popen[bytes], port: int, path: str, log: Path) -> None:
    """Poll GET `path` until it answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchmarkError(f"{name} exited with {proc.returncode}:\n{tail(log)}")
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.25)
    raise BenchmarkError(f"{name} was not ready after {READY_TIMEOUT_S:.0f} s:\n{tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process group this script started, then kill it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
    # Children (MLflow's uvicorn) share the group and may outlive the parent.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
