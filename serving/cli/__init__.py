"""The `influence` console script: one entry point, one subcommand per job.

The CLI lives in the top layer because it drives all three. Each module of this
package is one group of commands on its own `typer.Typer()` app, added here: `data`
(validate, simulate, features), `train` (train, promote), `compare`, `serve` (serve,
predict), `abtest` and `benchmark`. Errors that a user can act on (each layer's own
error class) are printed as plain sentences with the layer's exit code (2 for data
that breaks the contract, 1 otherwise); anything else is a bug and says so. Set
INFLUENCE_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from typing import Annotated

import typer
from rich.markup import escape

from features import FeaturesError
from serving.cli import abtest, benchmark, compare, data, serve, train
from serving.cli.console import err
from serving.errors import ServingError
from training.errors import TrainingError

__all__ = ["app", "main", "root"]

app = typer.Typer(
    name="influence",
    help="Predict the actions an influencer's sponsored post causes, not their popularity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, as written: rich markup would drop `[dask]` from `influence[dask]`, and
    # rich's panels show every flag (even --help) with a `<bool>` type.
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"influence {version('influence')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """`influence`'s own options, before any command: `--version` (and `--help`)."""


app.add_typer(data.app)
app.add_typer(train.app)
app.add_typer(compare.app)
app.add_typer(serve.app)
app.add_typer(abtest.app, name="abtest")
app.add_typer(benchmark.app, name="benchmark")


def main() -> None:
    """Run the CLI; turn the layers' errors into one plain sentence and an exit code."""
    try:
        app()
    except (FeaturesError, TrainingError, ServingError) as e:
        # Escaped: a message may hold brackets (`pip install 'influence[postgres]'`) that
        # rich would otherwise take for markup and drop.
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except Exception as e:  # the last line of defence: no traceback for users
        if os.environ.get("INFLUENCE_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(e).__name__}: {escape(str(e))}. "
            "This is a bug in influence; run again with INFLUENCE_DEBUG=1 for the traceback "
            "and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
