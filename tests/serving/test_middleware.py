"""The middleware on a real uvicorn process: the key before the body, slow and hostile
bodies, bodies in flight, and /health while large requests run.

One server serves the whole module (starting one costs seconds), with a non-ASCII key,
a one-second upload timeout, two bodies in flight and 100 history posts per request.
Requests are written on raw sockets, so that a test decides when each byte is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from features.io import load_dataset

KEY = "clé-secrète"
KEY_BYTES = KEY.encode("utf-8")
WRONG_KEY = "Missing or wrong API key: send it in the X-API-Key header."
CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}


class RunningServer(Protocol):
    """The `running_server` fixture."""

    def __call__(
        self, decision_log: str | Path, env: dict[str, str] | None = None
    ) -> AbstractContextManager[tuple[str, subprocess.Popen[str]]]: ...


ENV = {
    "INFLUENCE_API_KEY": KEY,
    "INFLUENCE_BODY_TIMEOUT_SECONDS": "1",
    "INFLUENCE_MAX_IN_FLIGHT": "2",
    "INFLUENCE_MAX_REQUEST_HISTORY_POSTS": "100",
}


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    accounts: list[str]
    """Accounts the server has histories of."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def detail(self) -> str:
        detail = json.loads(self.body)["detail"]
        assert isinstance(detail, str)
        return detail


@pytest.fixture(scope="module")
def server(
    running_server: RunningServer, trained: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("middleware") / "decisions.db"
    with running_server(log, ENV) as (base, process):
        data = load_dataset(trained / "world")
        accounts = [str(a) for a in data.posts["account_id"].drop_duplicates()]
        yield Server(int(base.rpartition(":")[2]), process.pid, accounts)


def head(
    method: str,
    path: str,
    length: int | None = None,
    key: bytes | None = KEY_BYTES,
    cookie: bytes | None = None,
) -> bytes:
    """A request's head: the key as raw bytes, as a client that knows it sends it, and
    the session cookie of a signed-in browser if given."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    if length is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % length]
    if key is not None:
        lines.append(b"X-API-Key: " + key)
    if cookie is not None:
        lines.append(b"Cookie: influence_session=" + cookie)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_reply(sock: socket.socket) -> Reply:
    """One HTTP/1.1 answer, framed by its Content-Length."""
    with sock.makefile("rb") as f:
        status = int(f.readline().split()[1])
        headers: dict[str, str] = {}
        while (line := f.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = f.read(int(headers.get("content-length", "0")))
    return Reply(status, headers, body)


def call(
    port: int, method: str, path: str, body: object = None, key: bytes | None = KEY_BYTES
) -> Reply:
    """`body` is sent as JSON, or as is when it is bytes already."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    with connect(port) as sock:
        sock.sendall(head(method, path, len(data) if body is not None else None, key) + data)
        return read_reply(sock)


def timed(port: int, method: str, path: str, body: object = None) -> tuple[float, Reply]:
    start = time.perf_counter()
    reply = call(port, method, path, body)
    return time.perf_counter() - start, reply


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def small_request(server: Server) -> dict[str, object]:
    return {"campaign": CAMPAIGN, "candidates": [{"account_id": server.accounts[0], "cost": 50}]}


def test_the_key_is_compared_as_utf8_bytes(server: Server) -> None:
    assert call(server.port, "GET", "/model").status == 200
    for wrong in (None, b"wrong", KEY.encode("latin-1"), KEY_BYTES[:-1]):
        reply = call(server.port, "GET", "/model", key=wrong)
        assert (reply.status, reply.detail) == (401, WRONG_KEY), wrong


def test_the_docs_need_the_key_and_health_does_not(server: Server) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        refused = call(server.port, "GET", path, key=None)
        assert (refused.status, refused.detail) == (401, WRONG_KEY), path
        assert call(server.port, "GET", path).status == 200, path
    assert call(server.port, "GET", "/health", key=None).status == 200


def test_the_key_is_checked_before_the_body_is_read(server: Server) -> None:
    # Ten megabytes announced and none sent: waiting for them would end in the 408 of
    # the one-second upload timeout, not in the 401.
    with connect(server.port) as sock:
        sock.sendall(head("POST", "/predict", 10_000_000, key=None))
        reply = read_reply(sock)
    assert (reply.status, reply.detail) == (401, WRONG_KEY)


def test_a_browser_s_cookie_is_checked_before_the_body_too(server: Server) -> None:
    session = hmac.new(KEY_BYTES, b"influence browser session v1", hashlib.sha256).hexdigest()
    with connect(server.port) as sock:
        sock.sendall(head("GET", "/model", key=None, cookie=session.encode()))
        assert read_reply(sock).status == 200
    # As without a key: ten megabytes announced and none sent, answered at once.
    with connect(server.port) as sock:
        sock.sendall(head("POST", "/predict", 10_000_000, key=None, cookie=b"0" * 64))
        reply = read_reply(sock)
    assert (reply.status, reply.detail) == (401, WRONG_KEY)


def test_a_slow_upload_is_refused_while_health_answers(server: Server) -> None:
    with connect(server.port) as slow:
        slow.sendall(head("POST", "/predict", 1000) + b'{"campaign": ' + b" " * 100)
        health = call(server.port, "GET", "/health", key=None)
        assert health.status == 200
        readable, _, _ = select.select([slow], [], [], 0)
        assert not readable, "the slow upload was answered before /health"
        reply = read_reply(slow)
    assert (reply.status, reply.detail) == (
        408,
        "The request body did not arrive within 1 second; send it at once, or a smaller one.",
    )
    assert reply.headers["connection"] == "close"


def test_bodies_in_flight_are_bounded(server: Server) -> None:
    held = [connect(server.port) for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(head("POST", "/predict", 1000) + b'{"campaign": ')
        time.sleep(0.2)  # well within the upload timeout that would free them
        busy = call(server.port, "POST", "/predict", small_request(server))
        # The operator can still reload a busy service: a reload carries no body.
        reloaded = call(server.port, "POST", "/admin/reload", b"")
    finally:
        for sock in held:
            sock.close()
    assert (busy.status, busy.detail) == (
        503,
        "The service is busy: 2 requests are being received or answered. Retry in a moment.",
    )
    assert busy.headers["retry-after"] == "1"
    assert reloaded.status == 200, reloaded.detail
    deadline = time.monotonic() + 5
    while (reply := call(server.port, "POST", "/predict", small_request(server))).status == 503:
        assert time.monotonic() < deadline, "the closed uploads still hold their slots"
        time.sleep(0.05)
    assert reply.status == 200


def test_a_hostile_body_costs_about_what_a_small_request_does(server: Server) -> None:
    small = small_request(server)
    timed(server.port, "POST", "/predict", small)  # warm up
    small_seconds = statistics.median(
        timed(server.port, "POST", "/predict", small)[0] for _ in range(5)
    )
    before = rss_bytes(server.pid)
    hostile = json.dumps({"candidates": [0] * 1_000_000}).encode()  # 3 MB
    hostile_seconds, reply = timed(server.port, "POST", "/predict", hostile)
    grown = rss_bytes(server.pid) - before
    assert (reply.status, reply.detail) == (
        413,
        "The request has more than 5000 candidates; at most 5000 are accepted. "
        "Split it into several requests.",
    )
    ratio = hostile_seconds / small_seconds
    assert ratio < 50, f"{hostile_seconds:.4f} s against {small_seconds:.4f} s"
    assert grown < 200_000_000


def test_health_answers_while_large_requests_run(server: Server) -> None:
    accounts = server.accounts
    big = {
        "campaign": CAMPAIGN,
        "candidates": [
            {"account_id": accounts[i % len(accounts)], "cost": 10 + i % 90} for i in range(5000)
        ],
    }
    answers: list[tuple[float, Reply]] = []

    def post() -> None:
        answers.append(timed(server.port, "POST", "/predict", big))

    workers = [threading.Thread(target=post) for _ in range(2)]
    for w in workers:
        w.start()
    health: list[float] = []
    while any(w.is_alive() for w in workers):
        seconds, reply = timed(server.port, "GET", "/health")
        if any(w.is_alive() for w in workers):
            assert reply.status == 200
            health.append(seconds)
        time.sleep(0.02)
    for w in workers:
        w.join()
    assert [r.status for _, r in answers] == [200, 200]
    assert all(len(json.loads(r.body)["scores"]) == 5000 for _, r in answers)
    slowest_health, fastest_big = max(health), min(s for s, _ in answers)
    assert len(health) >= 3
    assert slowest_health < fastest_big / 4, f"{slowest_health:.4f} s against {fastest_big:.3f} s"


def test_history_posts_over_the_request_total_are_413(server: Server) -> None:
    post = {"posted_at": "2024-01-01T00:00:00Z", "followers": 100, "likes": 3}
    post |= {"comments": 1, "shares": 0}
    body = {
        "campaign": CAMPAIGN,
        "candidates": [
            {"account_id": f"new-{i}", "cost": 10, "history": [post] * 40} for i in range(3)
        ],
    }
    reply = call(server.port, "POST", "/predict", body)
    assert (reply.status, reply.detail) == (
        413,
        "The request's histories hold more than 100 posts in all; at most 100 are accepted. "
        "Send fewer candidates with history per request, or shorter histories.",
    )
