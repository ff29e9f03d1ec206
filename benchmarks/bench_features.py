"""Benchmark: build features for 20,000 placements over about a million posts.

Target (issue 3): under 20 s and under 3 GB on 2 cores, fit included. Run it in a
fresh process so that peak memory belongs to this job alone:

    .venv/bin/python benchmarks/bench_features.py [--accounts 10000 --campaigns 400]
"""

from __future__ import annotations

import argparse

from common import machine, peak_rss_mib, timed

from features.builder import FeatureBuilder
from features.contract import TABLES
from features.io import Dataset
from features.simulate import SimulationConfig, simulate_world
from features.validate import coerce_table


def main() -> None:
    """Simulate a world, then time fit and transform; print one Markdown table row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=400)
    args = parser.parse_args()
    world = simulate_world(
        SimulationConfig(accounts=args.accounts, campaigns=args.campaigns, candidates=50, seed=1)
    )
    tables = {
        name: coerce_table(spec, getattr(world, name), name)[0] for name, spec in TABLES.items()
    }
    data = Dataset(**tables)
    before = peak_rss_mib()
    times: dict[str, float] = {}
    with timed("fit", times):
        builder = FeatureBuilder().fit(data)
    with timed("transform", times):
        table = builder.transform(data)
    total = times["fit"] + times["transform"]
    posts = len(data.posts)
    print(f"machine: {machine()}")  # noqa: T201 - a benchmark reports on stdout
    print(  # noqa: T201
        "| posts | placements | fit s | transform s | total s | posts/s | peak MiB "
        "(before features) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")  # noqa: T201
    print(  # noqa: T201
        f"| {posts:,} | {len(table):,} | {times['fit']:.1f} | {times['transform']:.1f} | "
        f"{total:.1f} | {posts / total:,.0f} | {peak_rss_mib():.0f} ({before:.0f}) |"
    )


if __name__ == "__main__":
    main()
