"""Load with reloads: concurrent /predict and /rank clients while the model is reloaded.

Starts `influence serve` on a free 127.0.0.1 port over a trained workspace (built
here, as the tests' `trained` fixture does, unless --workspace names one with
`world/` and `models/champion.json`), serving the champion's own snapshot
(`models/influence-vN.snapshot`, `--source snapshot`, the default) or the raw data
(`--source data`, `world/`); runs --clients threads for --seconds (half /predict, half
/rank, --candidates known accounts each), POSTs /admin/reload every --reload-every
seconds from another thread (each reload re-reads the source), then prints the counts,
latency percentiles, reloads done and decision-log records against answered requests.

Each request's and each reload's window (client-side monotonic start and end) is
recorded, so that the requests whose window overlaps a reload's are told apart from the
others: their p99 (`p99_during_reload`) against the others' (`p99_usual`) is what a
reload costs the requests that arrive meanwhile.

Exits 1 if any request failed, the log does not hold exactly one record per answer, a
reload did not answer 200, or requests overlapped a reload and their p99 is over twice
the usual one.

    python benchmarks/load_reload.py                 # 16 clients, 60 s, reload every 10 s
    python benchmarks/load_reload.py --source data   # the same, reloads re-read world/
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
from training.artifacts.files import read_manifest
from training.workspace import CHAMPION_MANIFEST, snapshot_folder

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon training"}

RELOAD_SLOWDOWN_LIMIT = 2.0
"""The most `p99_during_reload / p99_usual` may be: a reload swaps in a state loaded
beside the serving one, so requests meanwhile should wait little more than usual."""

Window = tuple[float, float]
"""A (start, end) pair of `time.monotonic()` readings, taken on the client side."""


@dataclass
class Tally:
    """What the clients and the reloader saw; appended to from many threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"predict": [], "rank": []})
    statuses: Counter[str] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reloads: Counter[int] = field(default_factory=Counter)
    windows: list[Window] = field(default_factory=list)
    """Each answered request's window, in the order of `answered`."""
    answered: list[float] = field(default_factory=list)
    """Each answered request's latency in seconds (the end minus the start of its window)."""
    reload_windows: list[Window] = field(default_factory=list)
    """Each reload's window, of those that answered 200: a refused one loaded nothing."""
    reload_failures: list[str] = field(default_factory=list)


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


def source_flag(workspace: Path, source: str) -> list[str]:
    """The `influence serve` arguments naming what it reads: for "snapshot", the champion's
    own snapshot (`snapshot_folder` of the version in `models/champion.json`, which
    `influence train --promote` writes); for "data", `world/`. SystemExit when the snapshot
    is missing, since the server would then fail to start with a less direct reason."""
    if source == "data":
        return ["--data", str(workspace / "world")]
    models = workspace / "models"
    version = str(read_manifest(models / CHAMPION_MANIFEST)["version"])
    folder = snapshot_folder(models, version)
    if not folder.is_dir():
        raise SystemExit(f"the champion (version {version}) has no snapshot at {folder}")
    return ["--snapshot", str(folder)]


def start_server(workspace: Path, source: str, log: Path, port: int) -> subprocess.Popen[bytes]:
    """`influence serve` as a subprocess reading `source` (`source_flag`); returns once
    /health answers 200."""
    command = [sys.executable, "-m", "serving", "serve", *source_flag(workspace, source)]
    command += ["--port", str(port), "--model", str(workspace / "models" / "champion.json")]
    # Only the flag names the source: a snapshot or data directory set in this shell's
    # environment would otherwise take precedence over, or mix with, the one measured.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"INFLUENCE_DATA_DIR", "INFLUENCE_SNAPSHOT_DIR"}
    }
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "INFLUENCE_DECISION_LOG": str(log)},
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
        start = time.monotonic()
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
        end = time.monotonic()
        with tally.lock:
            tally.statuses[str(response.status)] += 1
            if response.status == 200:
                tally.latencies[endpoint].append(end - start)
                tally.windows.append((start, end))
                tally.answered.append(end - start)
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
        start = time.monotonic()
        try:
            conn.request("POST", "/admin/reload")
            response = conn.getresponse()
            status, reason = response.status, repr(response.read()[:200])
        except (OSError, http.client.HTTPException) as e:
            status, reason = 0, f"{type(e).__name__}: {e}"
        finally:
            end = time.monotonic()
            conn.close()
        with tally.lock:
            tally.reloads[status] += 1
            if status == 200:
                tally.reload_windows.append((start, end))
            else:
                tally.reload_failures.append(f"reload: {status} {reason}")
        next_at += every


def logged_ids(log: Path) -> list[str]:
    """Every request id in the decision log."""
    store = DecisionLog(str(log))
    try:
        with store.engine.connect() as conn:
            return [str(r) for r in conn.execute(select(decisions.c.request_id)).scalars()]
    finally:
        store.close()


def during_reloads(requests: list[Window], reloads: list[Window]) -> np.ndarray:
    """For each request window, whether it overlaps any reload window (both closed: a
    request that ends the instant a reload starts overlaps it). Booleans, in order."""
    if not requests or not reloads:
        return np.zeros(len(requests), dtype=bool)
    req, rel = np.array(requests), np.array(reloads)
    starts, ends = req[:, :1], req[:, 1:]  # columns, broadcast against every reload
    return np.asarray(((starts <= rel[:, 1]) & (ends >= rel[:, 0])).any(axis=1))


def reload_cost(tally: Tally) -> dict[str, object]:
    """The p99 latency (ms) of the answered requests that overlap no reload
    (`p99_usual`) and of those that overlap one (`p99_during_reload`), their ratio (None
    when either group is empty), the counts of each, and how long each reload that
    answered 200 took (ms)."""
    latencies = np.array(tally.answered) * 1000
    during = during_reloads(tally.windows, tally.reload_windows)

    def p99(v: np.ndarray) -> float | None:
        return round(float(np.percentile(v, 99)), 1) if v.size else None

    usual, meanwhile = p99(latencies[~during]), p99(latencies[during])
    ratio = round(meanwhile / usual, 2) if usual and meanwhile is not None else None
    return {
        "p99_usual": usual,
        "p99_during_reload": meanwhile,
        "ratio": ratio,
        "requests_usual": int((~during).sum()),
        "requests_during_reload": int(during.sum()),
        "limit": RELOAD_SLOWDOWN_LIMIT,
        "reload_ms": [round((end - start) * 1000, 1) for start, end in tally.reload_windows],
    }


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
    server = start_server(workspace, args.source, log, port)
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
        "source": args.source,
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
        "reload_cost": reload_cost(tally),
        "decision_log_records": len(ids),
        "decision_log_matches": sorted(ids) == sorted(tally.request_ids),
        "first_failures": tally.failures[:5],
        "reload_failures": tally.reload_failures[:5],
    }


def main() -> int:
    """Parse the arguments, run, print; exit 1 on a failed request, a log mismatch, a failed
    reload or requests during reloads slower than `RELOAD_SLOWDOWN_LIMIT` times usual."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--reload-every", type=float, default=10)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument(
        "--source",
        choices=["snapshot", "data"],
        default="snapshot",
        help="serve the champion's snapshot (models/influence-vN.snapshot) or world/",
    )
    parser.add_argument("--workspace", type=Path, help="world/ and models/champion.json")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        workspace = args.workspace or build_workspace(scratch / "workspace")
        result = run(args, workspace, scratch)
    reloads_ok = result["reloads"].get("200", 0)  # type: ignore[attr-defined]
    cost: dict[str, object] = result["reload_cost"]  # type: ignore[assignment]
    ratio = cost["ratio"]
    # No request during a reload (or none outside one) leaves no ratio to judge.
    slowed = isinstance(ratio, float) and ratio > RELOAD_SLOWDOWN_LIMIT
    ok = (
        result["failed"] == 0
        and result["decision_log_matches"]
        and result["answered"] == result["decision_log_records"]
        and set(result["reloads"]) <= {"200"}  # type: ignore[arg-type]
        and not slowed
    )
    if args.json:
        print(json.dumps(result))  # noqa: T201
    else:
        p = result["latency_ms_p50_p95_p99"]
        print(  # noqa: T201
            f"{result['clients']} clients x {result['seconds']:.0f} s, "
            f"{result['candidates']} candidates per request, reload every {args.reload_every} s, "
            f"serving the {result['source']}\n"
            f"answered {result['answered']} ({result['answered_predict']} /predict, "
            f"{result['answered_rank']} /rank; {result['requests_per_second']}/s), "
            f"failed {result['failed']}, by status {result['by_status']}\n"
            f"latency ms p50/p95/p99: {p}\n"
            f"reloads done: {reloads_ok} ok, all {result['reloads']}; took ms {cost['reload_ms']}\n"
            f"p99 ms: {cost['p99_usual']} usual ({cost['requests_usual']} requests), "
            f"{cost['p99_during_reload']} during a reload ({cost['requests_during_reload']} "
            f"requests); ratio {cost['ratio']} (limit {RELOAD_SLOWDOWN_LIMIT})\n"
            f"decision log: {result['decision_log_records']} records for "
            f"{result['answered']} answers; same request ids: {result['decision_log_matches']}"
        )
        for failure in [*result["first_failures"], *result["reload_failures"]]:  # type: ignore[misc]
            print("  failure:", failure)  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
