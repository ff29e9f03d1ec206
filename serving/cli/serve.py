"""`influence serve` and `influence predict`: the API under uvicorn, and batch scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from features.contract import TABLES
from serving.cli.console import err, out
from serving.cli.engine import (
    EngineOption,
    MemoryLimitOption,
    RunOn,
    SchedulerOption,
    WorkersOption,
)

__all__ = ["app", "example_request", "predict", "refuse_input_as_out", "serve"]

app = typer.Typer()

TABLE_FILES = tuple(f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet"))
"""The names a data directory's tables may have."""


def refuse_input_as_out(out_file: Path, data_dir: Path, *inputs: Path) -> None:
    """Raise typer.BadParameter (exit 2) when `--out` would overwrite one of the command's inputs.

    Takes the output path, the data directory (its table files, or anything inside a
    table folder, are inputs) and any further input files (`--placements`). Paths are
    compared resolved, so `./w/posts.csv` and a symlink to it are the same file.
    """
    target = Path(out_file).resolve()
    tables = [(Path(data_dir) / name).resolve() for name in TABLE_FILES]
    for source in [*tables, *(Path(p).resolve() for p in inputs)]:
        if target == source or source in target.parents:
            raise typer.BadParameter(
                f"{out_file} is one of this command's inputs; write the output to another path",
                param_hint="--out",
            )


def example_request(data_dir: Path, host: str, port: int, n: int = 3) -> str:
    """A ready-to-paste curl command: the last campaign's first candidates, at their prices."""
    from features.io import load_dataset

    data = load_dataset(data_dir)
    campaign = data.campaigns.iloc[-1]
    shortlist = data.placements[data.placements["campaign_id"] == campaign["campaign_id"]].head(n)
    body = {
        "campaign": {"brand": str(campaign["brand"]), "topic": str(campaign["topic"])},
        "candidates": [
            {"account_id": str(r.account_id), "cost": round(float(r.cost), 2)}
            for r in shortlist.itertuples()
        ],
    }
    return (
        f"curl -s -X POST http://{host}:{port}/predict -H 'Content-Type: application/json' "
        f"-d '{json.dumps(body)}'"
    )


@app.command()
def serve(
    data: Annotated[Path, typer.Option("--data", help="Data directory of account histories.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(help="Model manifest or registry URI (default models/champion.json)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes.")] = 1,
) -> None:
    """Serve the champion model over HTTP (docs at /docs)."""
    import os

    import uvicorn

    from serving.decisions import DecisionLog
    from serving.settings import read_settings

    os.environ["INFLUENCE_DATA_DIR"] = str(data)
    if model:
        os.environ["INFLUENCE_MODEL_URI"] = model
    # Read the settings and open the decision log here, once: a bad variable, a missing
    # driver or an unreachable database is then one sentence, not a traceback from
    # each worker's start-up.
    DecisionLog(read_settings().decision_log).close()
    err.print(f"Serving on http://{host}:{port} (OpenAPI docs at /docs). Try:", highlight=False)
    out.print(example_request(data, host, port), highlight=False, soft_wrap=True)
    uvicorn.run("serving.main:app", host=host, port=port, workers=workers, log_level="warning")


@app.command()
def predict(
    data_dir: Annotated[Path, typer.Argument(help="Data directory: histories and campaigns.")],
    placements: Annotated[
        Path, typer.Option(help="Planned placements (.csv or .parquet) to score.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the scores.")],
    model: Annotated[str | None, typer.Option(help="Model manifest or registry URI.")] = None,
    engine: EngineOption = "pandas",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
    memory_limit: MemoryLimitOption = None,
) -> None:
    """Score planned placements in batch with the same code as the API.

    With --engine dask the histories stay on a Dask cluster and each partition of
    accounts is scored there; the file written is the pandas engine's.
    """
    from serving.batch import predict_file, predict_file_dask
    from serving.settings import ServingSettings

    refuse_input_as_out(out_file, data_dir, placements)
    run_on = RunOn(engine, scheduler, workers, memory_limit)
    settings = ServingSettings(data_dir=data_dir)
    if model:
        settings = settings.model_copy(update={"model_uri": model})
    if run_on.dask:
        with run_on.client() as client, err.status(f"Scoring {placements} ..."):
            n = predict_file_dask(settings, client, placements, out_file)
    else:
        with err.status(f"Scoring {placements} ..."):
            n = predict_file(settings, placements, out_file)
    out.print(f"Wrote {out_file}: {n:,} placements scored.", highlight=False)
