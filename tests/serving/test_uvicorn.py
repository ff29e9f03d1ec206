"""End to end: `influence serve` as a real uvicorn process on a free local port."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from serving.decisions import DecisionLog

ServerFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_server` fixture


def call(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_answers_over_http(
    start_server: ServerFactory, free_port: int, tmp_path: Path
) -> None:
    port = free_port
    server = start_server(tmp_path / "decisions.db", port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, health = call(base + "/health")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready in 60 s"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.3)
        assert health["status"] == "ok"
        ready_line = server.stdout.readline() if server.stdout else ""
        assert ready_line.startswith(f"curl -s -X POST {base}/predict")
        body = json.loads(ready_line.split("-d '", 1)[1].rsplit("'", 1)[0])
        status, answer = call(base + "/predict", body)
        assert status == 200
        assert len(answer["scores"]) == len(body["candidates"])  # type: ignore[arg-type]
        status, answer = call(base + "/predict", {"campaign": body["campaign"], "candidates": []})
        assert status == 422
    finally:
        server.terminate()
        server.communicate(timeout=20)  # waits and closes the pipes
    assert DecisionLog(str(tmp_path / "decisions.db")).count() == 1
