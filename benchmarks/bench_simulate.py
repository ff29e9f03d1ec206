"""Benchmark: simulate 10,000 accounts with a year of posts and write them as Parquet.

Target (issue 2): under 60 s and under 2 GB on 2 cores. Run it in a fresh process
so that peak memory belongs to this job alone:

    .venv/bin/python benchmarks/bench_simulate.py [--accounts 10000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import machine, peak_rss_mib, timed

from features.simulate import SimulationConfig, simulate_world, write_world


def main() -> None:
    """Simulate, write, and print one Markdown table row with the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with timed("simulate", times):
            world = simulate_world(SimulationConfig(accounts=args.accounts, seed=1))
        with timed("write", times):
            write_world(world, Path(tmp) / "world")
    total = times["simulate"] + times["write"]
    print(f"machine: {machine()}")  # noqa: T201 - a benchmark reports on stdout
    print("| accounts | posts | simulate s | write s | total s | peak MiB |")  # noqa: T201
    print("|---:|---:|---:|---:|---:|---:|")  # noqa: T201
    print(  # noqa: T201
        f"| {args.accounts:,} | {len(world.posts):,} | {times['simulate']:.1f} | "
        f"{times['write']:.1f} | {total:.1f} | {peak_rss_mib():.0f} |"
    )


if __name__ == "__main__":
    main()
