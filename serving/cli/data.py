"""`influence validate`, `simulate` and `features`: a data directory checked, made or described."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features import FeaturesError, load_dataset, validate_directory
from features.simulate import SimulationConfig, simulate_world, write_world
from serving.cli.console import err, out
from serving.cli.engine import (
    EngineOption,
    MemoryLimitOption,
    RunOn,
    SchedulerOption,
    WorkersOption,
)
from serving.cli.serve import refuse_input_as_out

__all__ = ["DataDir", "app", "features", "simulate", "validate"]

app = typer.Typer()

DataDir = Annotated[
    Path,
    typer.Argument(
        help="Folder with accounts, posts, campaigns and placements (.csv or .parquet)."
    ),
]


@app.command()
def validate(data_dir: DataDir) -> None:
    """Check a data directory against the data contract and list every problem.

    Exits 0 when the data is valid (warnings are printed but do not fail), 2 when
    any rule is broken.
    """
    with err.status(f"Validating {data_dir} ..."):
        problems, warnings = validate_directory(data_dir)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if problems:
        n = len(problems)
        err.print(
            f"[red]{data_dir} breaks the data contract in {n} place{'s' if n != 1 else ''}:[/]",
            highlight=False,
        )
        for p in problems:
            err.print(f"  - {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    out.print(f"{data_dir} is valid.", highlight=False)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data directory to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same world.")] = 0,
    campaigns: Annotated[int, typer.Option(help="Number of campaigns.")] = 60,
    days: Annotated[int, typer.Option(help="Days of account history.")] = 365,
    candidates: Annotated[int, typer.Option(help="Placements (candidates) per campaign.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    partitions: Annotated[
        int,
        typer.Option(
            help="Files per table (Parquet): a folder NAME.parquet per table, split by account, "
            "for --engine dask."
        ),
    ] = 1,
    experiment: Annotated[
        bool,
        typer.Option(
            "--experiment",
            help="Run the later half of the campaigns as an experiment: arms model "
            "(true best per unit cost) and followers (biggest first), in `arm`.",
        ),
    ] = False,
) -> None:
    """Write a simulated data directory in the contract, plus its ground truth.

    The ground truth (expected outcomes per placement) goes to `truth.parquet`,
    never into the input tables.
    """
    config = SimulationConfig(
        accounts=accounts,
        campaigns=campaigns,
        days=days,
        candidates=candidates,
        seed=seed,
        experiment=experiment,
    )
    try:
        config.validate()
    except ValueError as e:
        raise FeaturesError(str(e)) from e
    with err.status(f"Simulating {accounts:,} accounts over {days} days ..."):
        world = simulate_world(config)
    with err.status(f"Writing {len(world.posts):,} posts to {out_dir} ..."):
        write_world(world, out_dir, fmt, partitions)
    out.print(
        f"Wrote {out_dir}: {len(world.accounts):,} accounts, {len(world.posts):,} posts, "
        f"{len(world.campaigns):,} campaigns, {len(world.placements):,} placements "
        f"(ground truth in {out_dir / 'truth.parquet'}).",
        highlight=False,
    )


@app.command()
def features(
    data_dir: DataDir,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    window: Annotated[int, typer.Option(help="Attribution window in days.")] = 30,
    engine: EngineOption = "pandas",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
    memory_limit: MemoryLimitOption = None,
) -> None:
    """Build the point-in-time feature table: one row per placement.

    The feature state (vocabulary, priors) is fitted on the whole directory here,
    for inspection; `influence train` fits it on the training period only. With
    --engine dask the posts are read, validated and turned into features on a Dask
    cluster, per partition of accounts; the table is the pandas engine's, row for row.
    """
    from features.builder import FeatureBuilder
    from features.io import write_table

    refuse_input_as_out(out_file, data_dir)
    run_on = RunOn(engine, scheduler, workers, memory_limit)
    if run_on.dask:
        from features.distributed import fit_builder, load_partitioned, transform

        with run_on.client() as client:
            with err.status(f"Validating {data_dir} on the Dask cluster ..."):
                parted = load_partitioned(client, data_dir)
            with err.status(f"Building features for {len(parted.placements):,} placements ..."):
                builder = fit_builder(parted, FeatureBuilder(attribution_window_days=window))
                table = transform(parted, builder)
    else:
        with err.status(f"Validating {data_dir} ..."):
            data = load_dataset(data_dir)
        with err.status(f"Building features for {len(data.placements):,} placements ..."):
            table = FeatureBuilder(attribution_window_days=window).fit(data).transform(data)
    write_table(table, out_file)
    out.print(f"Wrote {out_file}: {len(table):,} rows, {table.shape[1] - 4} features.")
