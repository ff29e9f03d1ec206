"""Benchmark: the influence API against `mlflow models serve`, same model, same machine.

Targets (on 2 cores): p99 under 15 ms for one candidate with its explanation,
`/rank` of 1,000 candidates under 100 ms, and at least 3 times the throughput of
`mlflow models serve` with 16 concurrent clients. Everything runs on 127.0.0.1 in
a temporary directory, is bounded in time and count, and stops by itself:

1. simulate a world (2,000 accounts, seed 7) and train on it with a temporary
   MLflow store, so the champion is both in `models/champion.json` and the registry;
2. start `influence serve` and `mlflow models serve --env-manager local` on the
   champion, each with one worker, and wait until both answer;
3. measure with keep-alive HTTP connections, one per client thread: one client
   sending sequential requests (p50, p99) and 16 clients for a fixed time
   (requests per second, p50, p99); `/rank` over 1,000 candidates.

    .venv/bin/python benchmarks/bench_serving.py [--quick]

`--quick` shortens every phase, for a smoke run. The timed clients and the servers'
start and stop are benchmarks/serving_load.py's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import machine
from serving_load import (
    HOST,
    BenchmarkError,
    Call,
    Connection,
    Result,
    concurrent,
    free_port,
    run,
    sequential,
    server,
    tail,
)

from features.builder import FEATURES
from features.io import load_dataset
from serving.scoring import CandidateIn, score
from serving.settings import ServingSettings
from serving.state import load_state

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 2000
SEED = 7
CLIENTS = 16
RANK_CANDIDATES = 1000
TARGET_PREDICT_P99_MS = 15.0
TARGET_RANK_MS = 100.0
TARGET_RATIO = 3.0


def environment(tmp: Path) -> dict[str, str]:
    """Environment of every child: the temporary stores, no telemetry."""
    uri = f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}"
    env = dict(os.environ)
    env.update(
        {
            "INFLUENCE_MLFLOW_TRACKING_URI": uri,
            "MLFLOW_TRACKING_URI": uri,
            "INFLUENCE_MLRUNS_DIR": str(tmp / "mlruns"),
            "INFLUENCE_MODELS_DIR": str(tmp / "models"),
            "INFLUENCE_DECISION_LOG": str(tmp / "decisions.db"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            # `mlflow models serve` starts `uvicorn` by name: find the venv's first.
            "PATH": os.pathsep.join(
                p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p
            ),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    env.pop("INFLUENCE_MODEL_URI", None)
    env.pop("INFLUENCE_DATA_DIR", None)
    env.pop("INFLUENCE_API_KEY", None)
    return env


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to do."""

    warmup: int
    single: int
    concurrent_s: float
    rank: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        """The full plan, or a short one for a smoke run."""
        return cls(5, 30, 3.0, 5) if quick else cls(20, 300, 15.0, 30)


@dataclass(frozen=True)
class Requests:
    """The bodies sent to each server, and what our API predicts for the single candidate."""

    predict: bytes
    rank: bytes
    invocation: bytes
    invocation_rows: bytes
    expected: dict[str, float]
    candidates: int


def _jsonable(value: Any) -> Any:
    """A float for JSON: NaN becomes null."""
    value = float(value)
    return None if math.isnan(value) else value


def build_requests(world: Path, manifest: Path) -> Requests:
    """Pick a campaign and accounts from the data; build the row MLflow gets the same way."""
    state = load_state(ServingSettings(model_uri=str(manifest), data_dir=world))
    data = load_dataset(world)
    campaign_row = data.campaigns.iloc[-1]
    campaign = {"brand": str(campaign_row["brand"]), "topic": str(campaign_row["topic"])}
    cost_of = data.placements.groupby("account_id")["cost"].mean()
    median_cost = float(data.placements["cost"].median())
    with_placements = [str(a) for a in cost_of.sort_values(ascending=False).index]
    others = [str(a) for a in data.accounts["account_id"] if str(a) not in cost_of.index]
    pool = (with_placements + others)[:RANK_CANDIDATES]
    costs = [round(float(cost_of.get(a, median_cost)), 2) for a in pool]

    account = with_placements[len(with_placements) // 2]
    cost = round(float(cost_of[account]), 2)
    single = {"account_id": account, "cost": cost}
    predict = {"campaign": campaign, "candidates": [single]}
    rank = {
        "campaign": campaign,
        "candidates": [{"account_id": a, "cost": c} for a, c in zip(pool, costs, strict=True)],
        "budget": round(0.2 * sum(costs), 2),
    }
    # The exact feature row the API builds for the single candidate, plus its cost.
    scored = score(state, campaign, [CandidateIn(account_id=account, cost=cost)], 5000)
    row = scored.x[0]
    columns = [*FEATURES, "cost"]
    one = [*(_jsonable(v) for v in row), cost]
    everyone = [CandidateIn(account_id=a, cost=c) for a, c in zip(pool, costs, strict=True)]
    many = score(state, campaign, everyone, 5000)
    many_rows = [[*(_jsonable(v) for v in r), c] for r, c in zip(many.x, costs, strict=True)]
    expected = {t: float(scored.predictions[t][0]) for t in state.bundle.targets}
    return Requests(
        predict=json.dumps(predict).encode(),
        rank=json.dumps(rank).encode(),
        invocation=json.dumps({"dataframe_split": {"columns": columns, "data": [one]}}).encode(),
        invocation_rows=json.dumps(
            {"dataframe_split": {"columns": columns, "data": many_rows}}
        ).encode(),
        expected=expected,
        candidates=len(pool),
    )


def check_first(call: Call, what: str) -> Any:
    """Send one request; fail loudly unless it answers 200 with JSON."""
    conn = Connection(call.port)
    try:
        status, data = conn.post(call.path, call.body)
    finally:
        conn.close()
    if status != 200:
        raise BenchmarkError(f"{what}: POST {call.path} answered {status}: {data[:500]!r}")
    return json.loads(data)


def mlflow_predictions(answer: Any) -> dict[str, float]:
    """The first row of MLflow's answer ({"predictions": [...]}), whatever its orientation."""
    predictions = answer["predictions"] if isinstance(answer, dict) else answer
    if isinstance(predictions, list):
        return {k: float(v) for k, v in predictions[0].items() if isinstance(v, int | float)}
    return {k: float(v[0]) for k, v in predictions.items()}


def measure(world: Path, tmp: Path, plan: Plan, workers: int = 1) -> list[Result]:
    """Start both servers and run every scenario against each."""
    env = environment(tmp)
    manifest = tmp / "models" / "champion.json"
    ours_port, mlflow_port = free_port(), free_port()
    ours_args = [
        sys.executable, "-m", "serving", "serve", "--data", str(world),
        "--port", str(ours_port), "--model", str(manifest), "--workers", str(workers),
    ]  # fmt: skip
    mlflow_args = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/influence@champion",
        "-h", HOST, "-p", str(mlflow_port), "--env-manager", "local", "-w", str(workers),
    ]  # fmt: skip
    bodies = build_requests(world, manifest)
    ours, theirs = "influence", "mlflow models serve"
    results: list[Result] = []
    with (
        server("influence", ours_args, env, tmp, "/health", ours_port),
        server("mlflow", mlflow_args, env, tmp, "/ping", mlflow_port),
    ):
        predict = Call(ours_port, "/predict", bodies.predict)
        rank = Call(ours_port, "/rank", bodies.rank)
        invoke = Call(mlflow_port, "/invocations", bodies.invocation)
        invoke_rows = Call(mlflow_port, "/invocations", bodies.invocation_rows)
        answer = check_first(predict, "influence /predict")
        if not answer["scores"] or answer["scores"][0]["contributions"] is None:
            raise BenchmarkError(f"/predict scored nothing or explained nothing: {answer}")
        check_first(rank, "influence /rank")
        got = mlflow_predictions(check_first(invoke, "mlflow /invocations (dataframe_split)"))
        ours_expected = {t: e["expected"] for t, e in answer["scores"][0]["outcomes"].items()}
        for target, value in bodies.expected.items():
            for who, x in (("influence", ours_expected.get(target)), ("mlflow", got.get(target))):
                if x is None or not math.isclose(x, value, rel_tol=1e-6):
                    print(  # noqa: T201
                        f"warning: {who} predicts {target} = {x}, in-process {value}"
                    )

        def add(server_name: str, scenario: str, lat_s: tuple[list[float], float]) -> None:
            results.append(Result(server_name, scenario, *lat_s))
            print(f"  {results[-1].row()}", flush=True)  # noqa: T201

        one = "/predict, 1 candidate + explanation"
        inv = "/invocations, 1 row"
        n = bodies.candidates
        add(ours, f"{one}, 1 client", sequential(predict, plan.single, plan.warmup))
        add(ours, f"{one}, {CLIENTS} clients", concurrent(predict, CLIENTS, plan.concurrent_s))
        add(ours, f"/rank, {n:,} candidates, 1 client", sequential(rank, plan.rank, 3))
        add(theirs, f"{inv}, 1 client", sequential(invoke, plan.single, plan.warmup))
        add(theirs, f"{inv}, {CLIENTS} clients", concurrent(invoke, CLIENTS, plan.concurrent_s))
        add(theirs, f"/invocations, {n:,} rows, 1 client", sequential(invoke_rows, plan.rank, 3))
    return results


def prepare(tmp: Path) -> Path:
    """Simulate the world and train the champion into the temporary stores."""
    env = environment(tmp)
    world = tmp / "world"
    cli = [sys.executable, "-m", "serving"]
    simulate = [*cli, "simulate", "--out", str(world), "--accounts", str(ACCOUNTS)]
    run([*simulate, "--seed", str(SEED)], env, tmp, tmp / "simulate.log")
    run([*cli, "train", str(world), "--seed", str(SEED)], env, tmp, tmp / "train.log")
    if not (tmp / "models" / "champion.json").exists():
        raise BenchmarkError(f"training left no champion:\n{tail(tmp / 'train.log')}")
    return world


def report(results: list[Result]) -> None:
    """The table, the throughput ratio and the targets."""
    print()  # noqa: T201
    print("| server | scenario | requests | p50 ms | p99 ms | req/s |")  # noqa: T201
    print("|---|---|---:|---:|---:|---:|")  # noqa: T201
    for r in results:
        print(r.row())  # noqa: T201
    single, many, rank, m_single, m_many = results[0], results[1], results[2], *results[3:5]
    ratio = many.rate / m_many.rate
    print()  # noqa: T201
    print(  # noqa: T201
        f"throughput at {CLIENTS} clients: {many.rate:,.0f} against {m_many.rate:,.0f} req/s "
        f"= {ratio:.1f} times mlflow models serve (1 client: "
        f"{single.rate / m_single.rate:.1f} times)"
    )
    checks = [
        (
            f"/predict p99 < {TARGET_PREDICT_P99_MS:.0f} ms (1 client)",
            single.percentile(99) < TARGET_PREDICT_P99_MS,
            f"{single.percentile(99):.1f} ms",
        ),
        (
            f"/rank {RANK_CANDIDATES:,} candidates < {TARGET_RANK_MS:.0f} ms (p99)",
            rank.percentile(99) < TARGET_RANK_MS,
            f"p50 {rank.percentile(50):.1f} ms, p99 {rank.percentile(99):.1f} ms",
        ),
        (
            f">= {TARGET_RATIO:.0f}x mlflow throughput at {CLIENTS} clients",
            ratio >= TARGET_RATIO,
            f"{ratio:.1f}x",
        ),
    ]
    for label, ok, value in checks:
        print(f"target {label}: {'met' if ok else 'NOT met'} ({value})")  # noqa: T201


def main() -> None:
    """Prepare, measure both servers, print the machine, the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke run")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes for both servers alike"
    )
    args = parser.parse_args()
    plan = Plan.of(args.quick)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    print(f"machine: {machine()}", flush=True)  # noqa: T201
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min); workers: {args.workers}", flush=True)  # noqa: T201
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        world = prepare(tmp)
        print(f"simulated and trained in {time.perf_counter() - started:.0f} s", flush=True)  # noqa: T201
        results = measure(world, tmp, plan, args.workers)
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")  # noqa: T201
    report(results)


if __name__ == "__main__":
    try:
        main()
    except BenchmarkError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        sys.exit(1)
