"""Load with reloads: concurrent /predict and /rank clients while the model is reloaded.

Starts `influence serve` on a free 127.0.0.1 port over a trained workspace (built
here, as the tests' `trained` fixture does, unless --workspace names one with
`world/` and `models/champion.json`), runs --clients threads for --seconds (half
/predict, half /rank, --candidates known accounts each), POSTs /admin/reload every
--reload-every seconds from another thread, then prints the counts, latency
percentiles, reloads done and decision-log records against answered requests.
Exits 1 if any request failed or the log does not hold exactly one record per answer.

    python benchmarks/load_reload.py                 # 16 clients, 60 s, reload every 10 s
    python benchmarks/load_reload.py --seconds 8 --clients 4 --reload-every 2 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from features.io import load_dataset
from serving.decisions import DecisionLog, decisions

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon training"}


@dataclass
class Tally:
    """What the clients and the reloader saw; appended to from many threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"predict": [], "rank": []})
    statuses: Counter[str] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reloads: Counter[int] = field(default_factory=Counter)


def free_port() -> int:
    """A port nothing listens on, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_workspace(root: Path) -> Path:
    """Simulate a world and train a champion on it, as the tests' `trained` fixture does."""
    from features.simulate import SimulationConfig, simulate_world, write_world
    from training.fitting import TrainConfig
    from training.pipeline import train
    from training.settings import TrainingSettings

    write_world(
        simulate_world(SimulationConfig(accounts=800, campaigns=30, seed=5)), root / "world"
    )
    settings = TrainingSettings.under(root)
    train(root / "world", TrainConfig(seed=1), settings)
    return root


def start_server(workspace: Path, log: Path, port: int) -> subprocess.Popen[bytes]:
    """`influence serve` as a subprocess; returns once /health answers 200."""
    command = [sys.executable, "-m", "serving", "serve", "--data", str(workspace / "world")]
    command += ["--port", str(port), "--model", str(workspace / "models" / "champion.json")]
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "INFLUENCE_DECISION_LOG": str(log)},
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return server
            conn.close()
        except OSError:
            pass
        time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not become ready in 90 s")


def client(port: int, endpoint: str, body: bytes, until: float, tally: Tally) -> None:
    """Post `body` to /endpoint over one keep-alive connection until `until`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            conn.request("POST", f"/{endpoint}", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as e:
            with tally.lock:
                tally.statuses["connection error"] += 1
                tally.failures.append(f"{endpoint}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        elapsed = time.perf_counter() - start
        with tally.lock:
            tally.statuses[str(response.status)] += 1
            if response.status == 200:
                tally.latencies[endpoint].append(elapsed)
                tally.request_ids.append(json.loads(payload)["request_id"])
            else:
                tally.failures.append(f"{endpoint}: {response.status} {payload[:200]!r}")
    conn.close()


def reloader(port: int, every: float, until: float, tally: Tally) -> None:
    """POST /admin/reload every `every` seconds until `until`."""
    next_at = time.monotonic() + every
    while next_at < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", "/admin/reload")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        with tally.lock:
            tally.reloads[status] += 1
        next_at += every


def logged_ids(log: Path) -> list[str]:
    """Every request id in the decision log."""
    store = DecisionLog(str(log))
    try:
        with store.engine.connect() as conn:
            return [str(r) for r in conn.execute(select(decisions.c.request_id)).scalars()]
    finally:
        store.close()


def run(args: argparse.Namespace, workspace: Path, scratch: Path) -> dict[str, object]:
    """Serve, load, reload; return the numbers."""
    data = load_dataset(workspace / "world")
    accounts = [str(a) for a in data.posts["account_id"].drop_duplicates()[: args.candidates]]
    candidates = [{"account_id": a, "cost": 100.0 + 7 * i} for i, a in enumerate(accounts)]
    bodies = {
        "predict": json.dumps({"campaign": CAMPAIGN, "candidates": candidates}).encode(),
        "rank": json.dumps(
            {"campaign": CAMPAIGN, "candidates": candidates, "budget": 2000.0}
        ).encode(),
    }
    log, port, tally = scratch / "decisions.db", free_port(), Tally()
    server = start_server(workspace, log, port)
    try:
        until = time.monotonic() + args.seconds
        endpoints = ["predict" if i % 2 == 0 else "rank" for i in range(args.clients)]
        threads = [
            threading.Thread(target=client, args=(port, e, bodies[e], until, tally))
            for e in endpoints
        ]
        threads.append(
            threading.Thread(target=reloader, args=(port, args.reload_every, until, tally))
        )
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    ids = logged_ids(log)
    answered = len(tally.request_ids)
    series = {**tally.latencies, "all": tally.latencies["predict"] + tally.latencies["rank"]}
    percentiles = {
        name: [round(float(np.percentile(np.array(v) * 1000, q)), 1) for q in (50, 95, 99)]
        for name, v in series.items()
        if v
    }
    return {
        "seconds": args.seconds,
        "clients": args.clients,
        "candidates": len(candidates),
        "answered": answered,
        "answered_predict": len(tally.latencies["predict"]),
        "answered_rank": len(tally.latencies["rank"]),
        "failed": len(tally.failures),
        "by_status": dict(tally.statuses),
        "requests_per_second": round(answered / args.seconds, 1),
        "latency_ms_p50_p95_p99": percentiles,
        "reloads": {str(k): v for k, v in tally.reloads.items()},
        "decision_log_records": len(ids),
        "decision_log_matches": sorted(ids) == sorted(tally.request_ids),
        "first_failures": tally.failures[:5],
    }


def main() -> int:
    """Parse the arguments, run, print; exit 1 on a failed request or a log mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--reload-every", type=float, default=10)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workspace", type=Path, help="world/ and models/champion.json")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        workspace = args.workspace or build_workspace(scratch / "workspace")
        result = run(args, workspace, scratch)
    reloads_ok = result["reloads"].get("200", 0)  # type: ignore[attr-defined]
    ok = (
        result["failed"] == 0
        and result["decision_log_matches"]
        and result["answered"] == result["decision_log_records"]
        and set(result["reloads"]) <= {"200"}  # type: ignore[arg-type]
    )
    if args.json:
        print(json.dumps(result))  # noqa: T201
    else:
        p = result["latency_ms_p50_p95_p99"]
        print(  # noqa: T201
            f"{result['clients']} clients x {result['seconds']:.0f} s, "
            f"{result['candidates']} candidates per request, reload every {args.reload_every} s\n"
            f"answered {result['answered']} ({result['answered_predict']} /predict, "
            f"{result['answered_rank']} /rank; {result['requests_per_second']}/s), "
            f"failed {result['failed']}, by status {result['by_status']}\n"
            f"latency ms p50/p95/p99: {p}\n"
            f"reloads done: {reloads_ok} ok, all {result['reloads']}\n"
            f"decision log: {result['decision_log_records']} records for "
            f"{result['answered']} answers; same request ids: {result['decision_log_matches']}"
        )
        for failure in result["first_failures"]:  # type: ignore[attr-defined]
            print("  failure:", failure)  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
