"""`influence serve` and `influence predict`: the API under uvicorn, and batch scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from features.headers import ReadOptions
from serving.cli.console import say, stderr, stdout
from serving.cli.engine import Engine, run_on
from serving.cli.options import (
    LOCAL_WORKERS,
    ColumnsFile,
    DayFirst,
    EngineOption,
    MemoryLimit,
    Scheduler,
    Workers,
    read_of,
    refuse_input_as_out,
)

__all__ = ["app", "example_request", "predict", "serve"]

app = typer.Typer()


def example_request(
    data_dir: Path, host: str, port: int, n: int = 3, read: ReadOptions | None = None
) -> str:
    """A ready-to-paste curl command: the last campaign's first candidates, at their prices.

    `read` says how the directory's exports are read (the server's `--columns`, `--dayfirst`).
    """
    from features.io import load_dataset

    data = load_dataset(data_dir, read)
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
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
) -> None:
    """Serve the champion model over HTTP (docs at /docs).

    --columns and --dayfirst reach the server as INFLUENCE_COLUMNS_FILE and
    INFLUENCE_DAYFIRST, which it reads the data directory with.
    """
    import os

    import uvicorn

    from serving.decisions import DecisionLog
    from serving.settings import read_settings

    read = read_of(columns, dayfirst)  # a broken columns file: one sentence, before serving
    os.environ["INFLUENCE_DATA_DIR"] = str(data)
    if columns is not None:
        os.environ["INFLUENCE_COLUMNS_FILE"] = str(columns)
    if dayfirst:
        os.environ["INFLUENCE_DAYFIRST"] = "true"
    if model:
        os.environ["INFLUENCE_MODEL_URI"] = model
    # Read the settings and open the decision log here, once: a bad variable, a missing
    # driver or an unreachable database is then one sentence, not a traceback from
    # each worker's start-up.
    DecisionLog(read_settings().decision_log).close()
    say(stderr(), f"Serving on http://{host}:{port} (OpenAPI docs at /docs). Try:")
    say(stdout(), example_request(data, host, port, read=read), soft_wrap=True)
    uvicorn.run("serving.main:app", host=host, port=port, workers=workers, log_level="warning")


@app.command()
def predict(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="Data directory: histories and campaigns.")
    ],
    placements: Annotated[
        Path, typer.Option(help="Planned placements (.csv or .parquet) to score.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the scores.")],
    model: Annotated[str | None, typer.Option(help="Model manifest or registry URI.")] = None,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Score planned placements in batch with the same code as the API.

    With --engine dask the histories stay on a Dask cluster and each partition of
    accounts is scored there; the file written is the pandas engine's.
    """
    from serving.settings import ServingSettings

    refuse_input_as_out(out_file, data_dir, placements)
    settings = ServingSettings(data_dir=data_dir, columns_file=columns, dayfirst=dayfirst)
    settings.read_options()  # a broken columns file: one sentence, before a cluster starts
    if model:
        settings = settings.model_copy(update={"model_uri": model})
    with (
        run_on(engine, scheduler, workers, memory_limit) as runner,
        stderr().status(f"Scoring {placements}{runner.where} ..."),
    ):
        n = runner.predict(settings, placements, out_file)
    say(stdout(), f"Wrote {out_file}: {n:,} placements scored.")
