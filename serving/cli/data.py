"""`influence validate`, `simulate` and `features`: a data directory checked, made or described."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from features import FeaturesError, validate_directory
from features.simulate import SimulationConfig, simulate_world, write_world
from serving.cli.console import progress, say, stderr, stdout, warn
from serving.cli.engine import Engine, run_on
from serving.cli.options import (
    LOCAL_WORKERS,
    SIMULATION,
    TRAIN,
    ColumnsFile,
    DataDir,
    DayFirst,
    EngineOption,
    MemoryLimit,
    Scheduler,
    Seed,
    Window,
    Workers,
    read_of,
    refuse_input_as_out,
)

__all__ = ["app", "features", "simulate", "validate"]

app = typer.Typer()


@app.command()
def validate(data_dir: DataDir, columns: ColumnsFile = None, dayfirst: DayFirst = False) -> None:
    """Check a data directory against the data contract and list every problem.

    Exits 0 when the data is valid (warnings, such as how an export was read, are
    printed but do not fail), 2 when any rule is broken.
    """
    read = read_of(columns, dayfirst)
    err = stderr()
    with progress(err, f"Validating {data_dir}"):
        problems, warnings = validate_directory(data_dir, options=read)
    for w in warnings:
        warn(err, str(w))
    if problems:
        n = len(problems)
        message = f"{data_dir} breaks the data contract in {n} place{'s' if n != 1 else ''}:"
        err.print(Text(message, style="red"), soft_wrap=True)
        for p in problems:
            say(err, f"  - {p}", soft_wrap=True)
        raise typer.Exit(2)
    say(stdout(), f"{data_dir} is valid.")


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data directory to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = SIMULATION.accounts,
    seed: Seed = SIMULATION.seed,
    campaigns: Annotated[int, typer.Option(help="Number of campaigns.")] = SIMULATION.campaigns,
    days: Annotated[int, typer.Option(help="Days of account history.")] = SIMULATION.days,
    candidates: Annotated[
        int, typer.Option(help="Placements (candidates) per campaign.")
    ] = SIMULATION.candidates,
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
    ] = SIMULATION.experiment,
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
    err = stderr()
    with progress(err, f"Simulating {accounts:,} accounts over {days} days"):
        world = simulate_world(config)
    with progress(err, f"Writing {len(world.posts):,} posts to {out_dir}"):
        write_world(world, out_dir, fmt, partitions)
    say(
        stdout(),
        f"Wrote {out_dir}: {len(world.accounts):,} accounts, {len(world.posts):,} posts, "
        f"{len(world.campaigns):,} campaigns, {len(world.placements):,} placements "
        f"(ground truth in {out_dir / 'truth.parquet'}).",
    )


@app.command()
def features(
    data_dir: DataDir,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    window: Window = TRAIN.window_days,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Build the point-in-time feature table: one row per placement.

    The feature state (vocabulary, priors) is fitted on the whole directory here,
    for inspection; `influence train` fits it on the training period only. With
    --engine dask the posts are read, validated and turned into features on a Dask
    cluster, per partition of accounts; the table is the pandas engine's, row for row.
    """
    from features.io import write_table

    refuse_input_as_out(out_file, data_dir)
    read = read_of(columns, dayfirst)
    err = stderr()
    with run_on(engine, scheduler, workers, memory_limit, read) as runner:
        with progress(err, f"Validating {data_dir}{runner.where}"):
            source = runner.load(data_dir, None)
        with progress(err, f"Building features for {len(source.placements):,} placements"):
            table = source.transform(source.fit(window, None), source.placements)
    write_table(table, out_file)
    say(stdout(), f"Wrote {out_file}: {len(table):,} rows, {table.shape[1] - 4} features.")
