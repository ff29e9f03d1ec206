"""The `influence` console script: one entry point, one subcommand per job.

The CLI lives in the top layer because it drives all three. Errors that a user can
act on (each layer's own error class) are printed as plain sentences with the
layer's exit code (2 for data that breaks the contract, 1 otherwise); anything else
is a bug and says so. Set INFLUENCE_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features import FeaturesError, validate_directory
from features.simulate import SimulationConfig, simulate_world, write_world
from serving.errors import ServingError
from training.errors import TrainingError

__all__ = ["app", "main"]

app = typer.Typer(
    name="influence",
    help="Predict the actions an influencer's sponsored post causes, not their popularity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

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
) -> None:
    """Write a simulated data directory in the contract, plus its ground truth.

    The ground truth (expected outcomes per placement) goes to `truth.parquet`,
    never into the input tables.
    """
    config = SimulationConfig(
        accounts=accounts, campaigns=campaigns, days=days, candidates=candidates, seed=seed
    )
    try:
        config.validate()
    except ValueError as e:
        raise FeaturesError(str(e)) from e
    with err.status(f"Simulating {accounts:,} accounts over {days} days ..."):
        world = simulate_world(config)
    with err.status(f"Writing {len(world.posts):,} posts to {out_dir} ..."):
        write_world(world, out_dir, fmt)
    out.print(
        f"Wrote {out_dir}: {len(world.accounts):,} accounts, {len(world.posts):,} posts, "
        f"{len(world.campaigns):,} campaigns, {len(world.placements):,} placements "
        f"(ground truth in {out_dir / 'truth.parquet'}).",
        highlight=False,
    )


# Commands of other modules register here, one line each.


def main() -> None:
    """Run the CLI; turn the layers' errors into one plain sentence and an exit code."""
    try:
        app()
    except (FeaturesError, TrainingError, ServingError) as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except Exception as e:  # the last line of defence: no traceback for users
        if os.environ.get("INFLUENCE_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(e).__name__}: {e}. This is a bug in influence; "
            "run again with INFLUENCE_DEBUG=1 for the traceback and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
