"""`influence materialize`: the snapshot a service starts from instead of the data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli.console import progress, say, stderr, stdout
from serving.cli.engine import Engine, run_on
from serving.cli.options import (
    LOCAL_WORKERS,
    ColumnsFile,
    DayFirst,
    EngineOption,
    MemoryLimit,
    ModelUri,
    Project,
    Scheduler,
    Workers,
    local_serving,
)

__all__ = ["app", "materialize"]

app = typer.Typer()


@app.command()
def materialize(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="Data directory: histories and campaigns.")
    ],
    out: Annotated[Path, typer.Option("--out", help="The snapshot folder to write (replaced).")],
    model: ModelUri = None,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    project: Project = None,
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Write the online snapshot of DATA_DIR for the model: serve it with --snapshot.

    With the model's fitted feature state, every account's features as of the end of
    the data, its recent captions, its posts (memory-mapped by the service, sorted by
    account), the small tables and the tier norms go to one folder with a manifest
    (sha256 of each file, the model's state digest, the data's digest). A service started
    with `influence serve --snapshot OUT` then reads no raw data at start-up or reload.
    Written beside OUT and renamed into place: a failure leaves OUT as it was. With
    --engine dask the posts stay on the cluster (its workers must see OUT's folder).
    """
    if data_dir.resolve().is_relative_to(out.resolve()):
        raise typer.BadParameter(
            "is, or holds, the data directory: writing the snapshot there would replace it.",
            param_hint="--out",
        )
    settings = local_serving(data_dir, columns, dayfirst, model, project)
    say(stderr(), settings.describe(decisions=False), soft_wrap=True)
    with (
        run_on(engine, scheduler, workers, memory_limit) as runner,
        progress(stderr(), f"Materializing {data_dir}{runner.where}"),
    ):
        done = runner.materialize(settings, out.absolute())
    say(stdout(), done.sentence())
    say(stdout(), f"Serve it: influence serve --snapshot {out}", soft_wrap=True)
