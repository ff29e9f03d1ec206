"""The options several commands share, declared once, with the library's defaults.

Each option is an `Annotated` alias: its flag and help text are here, and a command
declares it as `window: Window = TRAIN.window_days`, so the default it shows is the
one the library itself uses (`training.config.TrainConfig` for `train`,
`BacktestConfig` for `compare`, `features.simulate.SimulationConfig` for
`simulate`, `features.contract.OUTCOMES` for the targets), never a retyped number.
The helpers turn an option's text into what the library takes (`targets_of`,
`until_of`, `read_of`) and refuse an `--out` that would overwrite an input.
Every command that reads a data directory takes `--columns` and `--dayfirst`, turned
into one `features.headers.ReadOptions` by `read_of` and handed to whatever reads. Every
command that trains, backtests, promotes, predicts or serves takes `--project`
(`training.workspace`), checked here so that a bad name is refused by its flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from features.contract import OUTCOMES, TABLES
from features.files import FORMATS
from features.headers import ReadOptions, read_options
from features.simulate import SimulationConfig
from serving.cli.engine import Engine
from training.config import BacktestConfig, TrainConfig
from training.units import check_currency
from training.workspace import DEFAULT_PROJECT, check_project

if TYPE_CHECKING:
    from serving.settings import ServingSettings
    from training.settings import TrainingSettings

__all__ = [
    "BACKTEST",
    "BACKTEST_TARGETS",
    "LOCAL_WORKERS",
    "SIMULATION",
    "TRAIN",
    "TRAIN_TARGETS",
    "BudgetShare",
    "ColumnsFile",
    "Currency",
    "DataDir",
    "DayFirst",
    "EngineOption",
    "MemoryLimit",
    "ModelUri",
    "Project",
    "Scheduler",
    "Seed",
    "Targets",
    "Until",
    "Window",
    "Workers",
    "local_serving",
    "read_of",
    "refuse_input_as_out",
    "settings_of",
    "targets_of",
    "until_of",
]

TRAIN = TrainConfig()
"""`influence train`'s defaults."""
BACKTEST = BacktestConfig()
"""`influence compare`'s defaults."""
TRAIN_TARGETS = ",".join(TRAIN.targets)
"""`influence train --targets`' default, as its text."""
BACKTEST_TARGETS = ",".join(BACKTEST.targets)
"""`influence compare --targets`' default, as its text."""
SIMULATION = SimulationConfig()
"""`influence simulate`'s defaults."""
LOCAL_WORKERS = 2
"""`--workers`: `features.distributed.dask_client`'s default (a test holds them equal)."""

DataDir = Annotated[
    Path,
    typer.Argument(
        metavar="DATA_DIR",
        help="Folder with accounts, posts, campaigns and placements (.csv, .parquet or .xlsx).",
    ),
]
ModelUri = Annotated[
    str | None,
    typer.Option(help="Model manifest or registry URI (default the project's champion.json)."),
]
"""`--model` of the commands that score with one model (`predict`, `rank`, `materialize`)."""

ColumnsFile = Annotated[
    Path | None,
    typer.Option(
        "--columns",
        metavar="MAP.toml",
        help="TOML file naming your export's headers per table, e.g. [posts] followers = "
        '"Follower Count" (docs/data-contract.md).',
    ),
]
DayFirst = Annotated[
    bool,
    typer.Option("--dayfirst", help="Read dates such as 25/03/2026 as day/month/year (UTC)."),
]
Targets = Annotated[
    str,
    typer.Option(
        metavar="LIST",
        help=f"Comma-separated outcomes among {', '.join(OUTCOMES)}; the first leads "
        "(train promotes on it, compare's report opens with it); tables and files list "
        "them in the order above.",
    ),
]
Window = Annotated[
    int,
    typer.Option("--window", help="Attribution window in days after each placement."),
]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed and inputs, the same result.")]
BudgetShare = Annotated[
    float,
    typer.Option(help="Share of each campaign's candidate cost that every policy spends."),
]


def _currency(ctx: typer.Context, param: typer.CallbackParam, text: str | None) -> str | None:
    """`--currency` (or INFLUENCE_CURRENCY) as shown; typer.BadParameter (exit 2), naming
    where the text came from, for text that cannot stand in "clicks per ___"."""
    try:
        return check_currency(text)
    except ValueError as e:
        # By name: typer may vendor its own click, whose enum is not click's.
        source = ctx.get_parameter_source(str(param.name))
        from_env = source is not None and source.name == "ENVIRONMENT"
        where = "INFLUENCE_CURRENCY" if from_env else "--currency"
        raise typer.BadParameter(str(e), param_hint=where) from e


Currency = Annotated[
    str | None,
    typer.Option(
        "--currency",
        metavar="CODE",
        envvar="INFLUENCE_CURRENCY",
        show_envvar=False,  # the help says it, in fewer columns than typer's own note
        callback=_currency,
        help="What the costs are in (EUR, USD, €), for the results' words: 'clicks per "
        "EUR', 'EUR per click'. Default: INFLUENCE_CURRENCY, else 'per unit cost'.",
    ),
]
Until = Annotated[
    str | None,
    typer.Option(metavar="DATE", help="Train as of this date (2025-06-30): later data is ignored."),
]
EngineOption = Annotated[
    Engine,
    typer.Option(
        help="pandas: everything in this process. dask: the posts and the work on a Dask "
        "cluster (pip install 'influence[dask]').",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Address of a Dask scheduler, such as tcp://10.0.0.5:8786 (--engine dask); "
        "default: a local cluster.",
    ),
]
Workers = Annotated[int, typer.Option(help="Worker processes of the local Dask cluster.")]
MemoryLimit = Annotated[
    str | None,
    typer.Option(metavar="SIZE", help="Memory per worker of the local Dask cluster, e.g. 4GB."),
]


def _project(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return check_project(name)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


Project = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        callback=_project,
        help="The brand or client whose models, MLflow runs and decisions these are "
        f"(letters, digits, - and _); default INFLUENCE_PROJECT, else {DEFAULT_PROJECT}, "
        "whose files are models/ and decisions.db rather than models/NAME/ and "
        "decisions-NAME.db.",
    ),
]


def targets_of(text: str) -> tuple[str, ...]:
    """The outcomes named in a `--targets` text, in order (blanks dropped)."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def until_of(text: str | None) -> pd.Timestamp | None:
    """`--until` as a UTC timestamp (None: no limit); typer.BadParameter unless a date."""
    if not text:
        return None
    try:
        return pd.Timestamp(text, tz="UTC")
    except ValueError as e:
        raise typer.BadParameter(
            f"expected a date such as 2025-06-30, got {text!r}", param_hint="--until"
        ) from e


def settings_of(currency: str | None, project: str | None = None) -> TrainingSettings:
    """The training layer's settings for `--project` (`training.settings.settings_for`),
    with `--currency` in place of INFLUENCE_CURRENCY when it is given."""
    from training.settings import settings_for

    settings = settings_for(project)
    return settings if currency is None else settings.model_copy(update={"currency": currency})


def local_serving(
    data_dir: Path, columns: Path | None, dayfirst: bool, model: str | None, project: str | None
) -> ServingSettings:
    """The serving settings of a command that scores in its own process (`predict`,
    `rank`): its flags over the environment's INFLUENCE_ settings, as `serve` gives them.

    Paths given on the command line are the shell's, so they go absolute (the workspace
    would resolve them against INFLUENCE_HOME otherwise); a flag wins over
    INFLUENCE_COLUMNS_FILE and INFLUENCE_DAYFIRST, and without one the environment's
    setting holds. A broken columns file is DataContractError (exit 2) before anything
    loads.
    """
    from serving.settings import read_settings

    flags: dict[str, object] = {"data_dir": data_dir.absolute()}
    if columns is not None:
        flags["columns_file"] = columns.absolute()
    if dayfirst:
        flags["dayfirst"] = True
    if model:
        flags["model_uri"] = model if model.startswith("models:/") else str(Path(model).absolute())
    if project:
        flags["project"] = project
    settings = read_settings(**flags)
    settings.read_options()
    return settings


def read_of(columns: Path | None, dayfirst: bool) -> ReadOptions:
    """`--columns` and `--dayfirst` as the library's read options; DataContractError (exit
    2) naming every problem of the columns file."""
    return read_options(columns, dayfirst)


TABLE_FILES = tuple(f"{t}{suffix}" for t in TABLES for suffix in FORMATS)
"""The names a data directory's tables may have."""


def refuse_input_as_out(out_file: Path, data_dir: Path, *inputs: Path) -> None:
    """Raise typer.BadParameter (exit 2) when `--out` would overwrite one of the command's inputs.

    Takes the output path, the data directory (its table files, or anything inside a
    table folder, are inputs) and any further input files (`--placements`). Paths are
    compared resolved, so `./w/posts.csv` and a symlink to it are the same file.
    """
    target = Path(out_file).resolve()
    tables = [(Path(data_dir) / name).resolve() for name in TABLE_FILES]
    home = Path(data_dir).resolve()
    # Tables are found whatever their case (`Posts.csv`), so a name that differs only in
    # case is an input too, or inside one when it is a folder of Parquet files.
    in_table = any(
        parent.parent == home and parent.name.lower() in TABLE_FILES
        for parent in (target, *target.parents)
    )
    for source in [*tables, *(Path(p).resolve() for p in inputs)]:
        if in_table or target == source or source in target.parents:
            raise typer.BadParameter(
                f"{out_file} is one of this command's inputs; write the output to another path",
                param_hint="--out",
            )
