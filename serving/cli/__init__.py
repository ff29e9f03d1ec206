"""The `influence` console script: one entry point, one subcommand per job.

The CLI lives in the top layer because it drives all three. Each module of this
package is one group of commands on its own `typer.Typer()` app, added here: `data`
(validate, simulate, features), `train` (train, promote), `compare`, `serve` (serve,
predict), `materialize`, `rank`, `abtest` and `benchmark`. The shared options are declared once in
`options`, the engine is chosen once in `engine`, and `errors` turns the layers'
errors into one sentence naming the flag, with the layer's exit code.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from serving.cli import abtest, benchmark, compare, data, materialize, rank, serve, train
from serving.cli.errors import Reporting

__all__ = ["app", "main", "root"]

app = typer.Typer(
    cls=Reporting,
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
app.add_typer(materialize.app)
app.add_typer(rank.app)
app.add_typer(abtest.app, name="abtest")
app.add_typer(benchmark.app, name="benchmark")


def main() -> None:
    """Run the CLI (the console script `influence` and `python -m serving`)."""
    app()
