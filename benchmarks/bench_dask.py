"""Benchmark: the Dask engine on a world larger than one worker's memory.

Simulates worlds written as partitioned Parquet (a folder of files per table), then
builds the feature table with each engine in a fresh process (so that peak memory
belongs to that job alone):

- about 1 million posts (10,000 accounts): the pandas engine and the Dask engine (the
  overhead of Dask on data that fits one process);
- about 10 million posts (100,000 accounts): the Dask engine on a local cluster of 2
  workers of 1 thread, each limited to 4 GB, features and then `influence train`.

Peak memory: the driver's own `getrusage`, and each worker's, read on the worker with
`client.run`. Run it as

    .venv/bin/python benchmarks/bench_dask.py [--work /tmp/bench-dask] [--skip-train]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import machine, peak_rss_mib

WORLDS = {"1m": (10_000, 8), "10m": (100_000, 32)}
"""World name -> (accounts, Parquet files per table)."""
CAMPAIGNS = 400
STAGE_TIMEOUT = 25 * 60


def worker_peak_mib() -> float:
    """Peak resident memory of the process this runs in (a Dask worker), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate(work: Path, name: str) -> dict[str, Any]:
    """Write world `name` under `work` (kept between runs); return its sizes."""
    from features.simulate import SimulationConfig, simulate_world, write_world

    out = work / f"world-{name}"
    accounts, partitions = WORLDS[name]
    started = time.perf_counter()
    if not (out / "simulation.json").exists():
        config = SimulationConfig(accounts=accounts, campaigns=CAMPAIGNS, candidates=50, seed=1)
        world = simulate_world(config)
        write_world(world, out, "parquet", partitions)
        del world
    import pyarrow.parquet as pq

    rows = {
        t: sum(pq.ParquetFile(f).metadata.num_rows for f in (out / f"{t}.parquet").glob("*"))
        for t in ("posts", "placements")
    }
    return {"seconds": time.perf_counter() - started, "peak_mib": peak_rss_mib(), **rows}


def run_pandas(work: Path, name: str) -> dict[str, Any]:
    """The pandas engine: load (validate), fit, transform, in this process."""
    from features.builder import FeatureBuilder
    from features.io import load_dataset

    world = work / f"world-{name}"
    times: dict[str, float] = {}
    started = time.perf_counter()
    data = load_dataset(world)
    times["load"] = time.perf_counter() - started
    started = time.perf_counter()
    builder = FeatureBuilder().fit(data)
    times["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    table = builder.transform(data)
    times["transform"] = time.perf_counter() - started
    return {"posts": len(data.posts), "rows": len(table), **times, "driver_mib": peak_rss_mib()}


def run_dask(work: Path, name: str, train: bool) -> dict[str, Any]:
    """The Dask engine on 2 local workers of 1 thread and 4 GB: features, then training."""
    from features.builder import FeatureBuilder
    from features.distributed import dask_client, fit_builder, load_partitioned, transform
    from training.fitting import TrainConfig
    from training.settings import TrainingSettings

    world = work / f"world-{name}"
    result: dict[str, Any] = {}
    with dask_client(workers=2, memory_limit="4GB") as client:
        started = time.perf_counter()
        data = load_partitioned(client, world)
        result["load"] = time.perf_counter() - started
        started = time.perf_counter()
        builder = fit_builder(data, FeatureBuilder())
        result["fit"] = time.perf_counter() - started
        started = time.perf_counter()
        table = transform(data, builder)
        result["transform"] = time.perf_counter() - started
        result["rows"] = len(table)
        result["workers_mib"] = sorted(client.run(worker_peak_mib).values())
        result["driver_mib"] = peak_rss_mib()
        del data, table
        if train:
            from training.distributed import train_on_dask

            settings = TrainingSettings.under(work / f"train-{name}")
            started = time.perf_counter()
            trained = train_on_dask(world, TrainConfig(seed=1), settings, client)
            result["train"] = time.perf_counter() - started
            result["train_split"] = trained.split
            result["train_budget"] = {
                t: ev.value("model", "actions_per_cost") for t, ev in trained.evaluations.items()
            }
            result["workers_mib_train"] = sorted(client.run(worker_peak_mib).values())
            result["driver_mib_train"] = peak_rss_mib()
    return result


def stage(args: list[str]) -> dict[str, Any]:
    """Run one stage of this script in a fresh process; return its JSON (or the failure)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, __file__, *args],
            capture_output=True,
            text=True,
            timeout=STAGE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"did not finish within {STAGE_TIMEOUT} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"failed": done.stderr.strip().splitlines()[-1:] or ["no output"]}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall"] = time.perf_counter() - started
    return result


def report(results: dict[str, dict[str, Any]]) -> None:
    """Print the Markdown table of the README."""
    print(f"machine: {machine()}")  # noqa: T201 - a benchmark reports on stdout
    print(  # noqa: T201
        "| engine | posts | load + validate s | fit s | transform s | posts/s (fit + "
        "transform) | peak MiB per worker | peak MiB driver |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")  # noqa: T201
    for label, key in (
        ("pandas, 1 process", "pandas-1m"),
        ("dask, 2 workers x 4 GB", "dask-1m"),
        ("dask, 2 workers x 4 GB", "dask-10m"),
    ):
        r = results.get(key, {})
        if "failed" in r or not r:
            print(f"| {label} | {key} | failed: {r.get('failed')} | | | | | |")  # noqa: T201
            continue
        posts = results[f"sim-{key.split('-')[1]}"]["posts"]
        features = r["fit"] + r["transform"]
        workers = ", ".join(f"{m:,.0f}" for m in r.get("workers_mib", [])) or "-"
        print(  # noqa: T201
            f"| {label} | {posts:,} | {r['load']:.1f} | {r['fit']:.1f} | {r['transform']:.1f} | "
            f"{posts / features:,.0f} | {workers} | {r['driver_mib']:,.0f} |"
        )
    train = results.get("dask-10m", {})
    if "train" in train:
        workers = ", ".join(f"{m:,.0f}" for m in train["workers_mib_train"])
        print(  # noqa: T201
            f"\ninfluence train --engine dask on 10m: {train['train']:.0f} s, split "
            f"{train['train_split']}, budget metric {train['train_budget']}, peak MiB per "
            f"worker {workers}, driver {train['driver_mib_train']:,.0f}"
        )
    print("\n" + json.dumps(results, default=str))  # noqa: T201


def main() -> None:
    """Simulate, then run each engine in its own process; print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-dask"))
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--stage", choices=["simulate", "pandas", "dask"])
    parser.add_argument("--world", choices=list(WORLDS))
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    if args.stage:  # one stage, in this fresh process: print its JSON
        args.work.mkdir(parents=True, exist_ok=True)
        if args.stage == "simulate":
            out = simulate(args.work, args.world)
        elif args.stage == "pandas":
            out = run_pandas(args.work, args.world)
        else:
            out = run_dask(args.work, args.world, args.train)
        print(json.dumps(out, default=str))  # noqa: T201
        return
    common = ["--work", str(args.work)]
    results: dict[str, dict[str, Any]] = {}
    for name in WORLDS:
        results[f"sim-{name}"] = stage([*common, "--stage", "simulate", "--world", name])
        print(f"simulated {name}: {results[f'sim-{name}']}", flush=True)  # noqa: T201
    results["pandas-1m"] = stage([*common, "--stage", "pandas", "--world", "1m"])
    print(f"pandas 1m: {results['pandas-1m']}", flush=True)  # noqa: T201
    results["dask-1m"] = stage([*common, "--stage", "dask", "--world", "1m"])
    print(f"dask 1m: {results['dask-1m']}", flush=True)  # noqa: T201
    train = [] if args.skip_train else ["--train"]
    results["dask-10m"] = stage([*common, "--stage", "dask", "--world", "10m", *train])
    print(f"dask 10m: {results['dask-10m']}", flush=True)  # noqa: T201
    report(results)


if __name__ == "__main__":
    main()
