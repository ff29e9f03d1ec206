"""Cost of the largest and most hostile requests within the documented limits.

Starts `influence serve` over a trained workspace (built here unless --workspace
names one), then sends, one at a time: a one-candidate /predict (the reference),
5,000 known accounts, 1,000 unknown accounts with a one-post history, 1,428 unknown
accounts x 35 posts (50,000 posts: the per-request limit), a 3 MB
`{"candidates": [0, ...]}`, 20 MB of whitespace-padded JSON, and a body with a
validation error in every candidate. For each it prints the status, the wall time
the server took to answer, the server's RSS growth, and the longest /health wait
measured from another thread while it ran. Exits 1 if any answer is a 5xx, takes over
2 s, or grows the server by over 200 MB.

    python benchmarks/hostile_requests.py --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import machine
from load_reload import CAMPAIGN, build_workspace, free_port, start_server

from features.io import load_dataset

POST = {"posted_at": "2025-06-01T10:00:00Z", "followers": 900, "likes": 40, "comments": 2}
POST |= {"shares": 1, "text": "new trail shoes for the marathon"}


def rss_mib(pid: int) -> float:
    """Resident memory of a process now."""
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


def post(port: int, body: bytes) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.perf_counter()
    conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return response.status, elapsed


def health_watch(port: int, stop: threading.Event, worst: list[float]) -> None:
    """Call /health in a loop; keep the longest wait."""
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start = time.perf_counter()
        conn.request("GET", "/health")
        conn.getresponse().read()
        worst[0] = max(worst[0], time.perf_counter() - start)
        conn.close()
        time.sleep(0.01)


def bodies(accounts: list[str]) -> dict[str, bytes]:
    """The requests, by name, as bytes."""

    def of(candidates: object) -> bytes:
        return json.dumps({"campaign": CAMPAIGN, "candidates": candidates}).encode()

    unknown = [{"account_id": f"new-{i}", "cost": 50.0, "history": [POST]} for i in range(1000)]
    wide = [{"account_id": f"wide-{i}", "cost": 50.0, "history": [POST] * 35} for i in range(1428)]
    padded = of([{"account_id": a, "cost": 100.0} for a in accounts[:10]])
    return {
        "one known account": of([{"account_id": accounts[0], "cost": 100.0}]),
        "5,000 known accounts": of([{"account_id": a, "cost": 100.0} for a in accounts]),
        "1,000 unknown x 1 post": of(unknown),
        "1,428 unknown x 35 posts": of(wide),
        "3 MB of zeros as candidates": json.dumps({"candidates": [0] * 1_000_000}).encode(),
        "20 MB, mostly whitespace": padded[:-1] + b" " * (19_900_000 - len(padded)) + b"}",
        "5,000 invalid candidates": of([{"account_id": "", "cost": "x"}] * 5000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = args.workspace or build_workspace(Path(tmp) / "workspace")
        data = load_dataset(workspace / "world")
        accounts = [str(a) for a in data.posts["account_id"].drop_duplicates()[:5000]]
        port = free_port()
        server = start_server(workspace, Path(tmp) / "decisions.db", port)
        rows = []
        try:
            for name, body in bodies(accounts).items():
                before = rss_mib(server.pid)
                stop, worst = threading.Event(), [0.0]
                watcher = threading.Thread(target=health_watch, args=(port, stop, worst))
                watcher.start()
                status, seconds = post(port, body)
                stop.set()
                watcher.join()
                grown = rss_mib(server.pid) - before
                row = {"request": name, "bytes": len(body), "status": status}
                row |= {"seconds": round(seconds, 3), "rss_growth_mib": round(grown, 1)}
                rows.append(row | {"worst_health_seconds": round(worst[0], 3)})
        finally:
            server.terminate()
            server.wait(30)
    failed = [
        r for r in rows if r["status"] >= 500 or r["seconds"] > 2 or r["rss_growth_mib"] > 200
    ]
    if args.json:
        print(json.dumps({"machine": machine(), "requests": rows}, indent=2))  # noqa: T201
    else:
        print(machine())  # noqa: T201
        for r in rows:
            print(  # noqa: T201
                f"{r['request']:30} {r['bytes']:>11,} B  {r['status']}  {r['seconds']:7.3f} s  "
                f"+{r['rss_growth_mib']:6.1f} MiB  /health worst {r['worst_health_seconds']:.3f} s"
            )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
