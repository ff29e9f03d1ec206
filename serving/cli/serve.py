"""`influence serve` and `influence predict`: the API under uvicorn, and batch scoring."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from serving.cli.console import error, progress, say, stderr, stdout, warn
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
    read_of,
    refuse_input_as_out,
)

if TYPE_CHECKING:
    import pandas as pd
    import uvicorn

    from serving.settings import ServingSettings

__all__ = ["app", "app_url", "example_request", "listen", "predict", "serve"]

app = typer.Typer()


def example_request(
    campaigns: pd.DataFrame, placements: pd.DataFrame, host: str, port: int, n: int = 3
) -> str:
    """A ready-to-paste curl command: the last campaign's first candidates, at their prices.

    `campaigns` and `placements` are the tables as the server reads them (the data
    directory with its `--columns` and `--dayfirst`, or the snapshot's).
    """
    campaign = campaigns.iloc[-1]
    shortlist = placements[placements["campaign_id"] == campaign["campaign_id"]].head(n)
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


def app_url(host: str, port: int) -> str:
    """Where a browser finds the analyst's pages on a server listening at `host:port`."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/app/"


@app.command()
def serve(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data directory of account histories, read whole."),
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="A snapshot (influence materialize) to serve instead of a data directory.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(help="Model manifest or registry URI (default the project's champion)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes.")] = 1,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    project: Project = None,
) -> None:
    """Serve the champion model over HTTP: the app at /app/, the docs at /docs.

    The model is the project's champion (models/champion.json, or
    models/NAME/champion.json for --project NAME) unless --model names one; decisions
    go to the project's log (decisions.db, or decisions-NAME.db). --columns and
    --dayfirst reach the server as INFLUENCE_COLUMNS_FILE and INFLUENCE_DAYFIRST, which
    it reads the data directory with. A data directory that is not the one the model
    was trained on is a warning at start-up, and said in /model.

    --snapshot serves a materialized snapshot instead: start-up and /admin/reload read
    its arrays and map its posts, in seconds whatever the history's size. With neither
    --data nor --snapshot, the champion's own snapshot, which `influence train --promote`
    writes beside its bundle (models/influence-vN.snapshot).
    """
    import os

    import uvicorn

    from serving.decisions import DecisionLog
    from serving.settings import read_settings

    if data is not None and snapshot is not None:
        raise typer.BadParameter(
            "serves one source: give --data or --snapshot, not both.", param_hint="--snapshot"
        )
    # Checked before the variables below are set: a broken columns file is one sentence
    # and leaves this process's environment as it was.
    read_of(columns, dayfirst)
    # Paths given here are the shell's, relative to this directory; the server resolves
    # relative settings against the workspace (INFLUENCE_HOME), so they go absolute.
    if data is not None:
        os.environ["INFLUENCE_DATA_DIR"] = str(data.absolute())
    if snapshot is not None:
        os.environ["INFLUENCE_SNAPSHOT_DIR"] = str(snapshot.absolute())
    if columns is not None:
        os.environ["INFLUENCE_COLUMNS_FILE"] = str(columns.absolute())
    if dayfirst:
        os.environ["INFLUENCE_DAYFIRST"] = "true"
    if model:
        registry = model.startswith("models:/")
        os.environ["INFLUENCE_MODEL_URI"] = model if registry else str(Path(model).absolute())
    if project:
        os.environ["INFLUENCE_PROJECT"] = project
    # Read the settings and open the decision log here, once: a bad variable, a missing
    # driver or an unreachable database is then one sentence, not a traceback from
    # each worker's start-up.
    settings = read_settings()
    DecisionLog(settings.decision_log).close()
    # The flags, or the variables when already set: a broken columns file is one sentence
    # before the port is taken, and the request printed reads the data as the server will.
    sock = listen(host, port)  # a busy port fails before anything is loaded
    try:
        say(stderr(), settings.describe(), soft_wrap=True)
        request = _look(settings, host, port)

        def announce() -> None:
            say(stderr(), f"Serving on http://{host}:{port} (OpenAPI docs at /docs). Try:")
            say(stdout(), request, soft_wrap=True)
            say(stderr(), f"The app, to plan a campaign or vet an account: {app_url(host, port)}")

        config = uvicorn.Config(
            "serving.main:app", host=host, port=port, workers=workers, log_level="warning"
        )
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            # Each worker loads the model; the socket already listens, so a request
            # waits in its queue until one of them is ready.
            announce()
            Multiprocess(config, sockets=[sock]).run()
        else:
            _announcing_server()(config, announce).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C before uvicorn's own handler is installed
        pass
    finally:  # whatever stopped it, a data error included, the port is given back
        sock.close()


def _look(settings: ServingSettings, host: str, port: int) -> str:
    """A first look at what the server will read, before it starts: which source, whether
    its data is the model's (a warning when not), and the request to print. A source that
    cannot be found or read is one sentence here (exit 2), not a 503 after start-up."""
    from features.errors import FeaturesError
    from features.io import load_dataset
    from features.snapshot import read_manifest, read_table
    from serving.errors import NotReadyError
    from serving.lineage import check_manifest
    from serving.sources import recorded_read, source_of
    from serving.state import model_manifest

    manifest = model_manifest(settings.model_uri)  # None: /health will say why
    version = str((manifest or {}).get("version", "unknown"))
    try:
        kind, folder = source_of(settings, version)
    except NotReadyError as e:
        error(stderr(), f"{str(e).removeprefix('no data: ')}.")
        raise typer.Exit(2) from e
    if kind == "data":
        read = settings.read_options()
        served = load_dataset(folder, read)
        campaigns, placements, digest = served.campaigns, served.placements, served.digest()
    else:
        try:
            recorded = read_manifest(folder)
            campaigns, placements = (
                read_table(folder, "campaigns"),
                read_table(folder, "placements"),
            )
        except FeaturesError as e:
            error(stderr(), str(e))
            raise typer.Exit(2) from e
        say(stderr(), f"Serving the snapshot {folder} (as of {recorded['as_of']}).")
        digest = str(recorded.get("data_digest") or "")
        read = recorded_read(recorded)
        folder = Path(str(recorded.get("data_dir") or folder))
    if manifest is not None:
        check = check_manifest(manifest, digest, folder, settings.project, read)
        if check.matches is False:
            warn(stderr(), check.note)
    return example_request(campaigns, placements, host, port)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` and listening, to hand to uvicorn.

    Bound here, before the model loads, so that a busy port is one sentence and exit 2
    (uvicorn would log the OSError and exit 1 only after start-up), and so that the
    address is printed only once something answers there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may reuse a port whose old connections linger in
    # TIME_WAIT; a port another server listens on still fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            message = f"Port {port} is in use: stop the other server or pass --port N."
        else:
            message = (
                f"Cannot listen on {host}:{port} ({e.strerror}): pass another --host or --port."
            )
        error(stderr(), message)
        raise typer.Exit(2) from e
    sock.listen(2048)  # uvicorn's default backlog
    sock.set_inheritable(True)  # the workers, when there are several, share it
    return sock


def _announcing_server() -> Callable[[uvicorn.Config, Callable[[], None]], uvicorn.Server]:
    # Made on demand: uvicorn is imported only by `serve`, not by every command.
    import uvicorn

    class Announcing(uvicorn.Server):
        """A uvicorn server that calls `announce` once it accepts requests."""

        def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
            super().__init__(config)
            self.announce = announce

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            # After the app's lifespan (the model is loaded) and after the sockets are
            # served: a request pasted from the announcement is answered.
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                self.announce()

    return Announcing


@app.command()
def predict(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="Data directory: histories and campaigns.")
    ],
    placements: Annotated[
        Path,
        typer.Option(
            help="Planned placements (.csv or .parquet) to score: campaign_id, account_id, "
            "posted_at, cost and, optionally, placement_id (rows without one are "
            "planned-1, planned-2, ... by their position in the file)."
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the scores.")],
    model: ModelUri = None,
    brand: Annotated[
        str | None,
        typer.Option(
            help="Brand of the plan's new campaign, one not in campaigns.csv yet (with --topic)."
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="Topic (brief) of the plan's new campaign (with --brand)."),
    ] = None,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    project: Project = None,
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Score planned placements in batch with the same code as the API.

    Writes one row per planned placement, in the file's order: placement_id,
    campaign_id, account_id and cost as planned, then each outcome's prediction with
    its interval (T, T_low, T_high) and roi. The accounts and campaigns must be in
    DATA_DIR, except one new campaign described by --brand and --topic. With --engine
    dask the histories stay on a Dask cluster and each partition of accounts is
    scored there; the file written is the pandas engine's.
    """
    from serving.batch import NewCampaign

    refuse_input_as_out(out_file, data_dir, placements)
    if (brand is None) != (topic is None):
        given, missing = ("--brand", "--topic") if topic is None else ("--topic", "--brand")
        raise typer.BadParameter(
            f"{given} describes a new campaign with {missing}; give both.",
            param_hint=missing,
        )
    new_campaign = None if brand is None or topic is None else NewCampaign(brand, topic)
    # A broken columns file: one sentence, before a cluster starts.
    settings = local_serving(data_dir, columns, dayfirst, model, project)
    say(stderr(), settings.describe(decisions=False), soft_wrap=True)
    with (
        run_on(engine, scheduler, workers, memory_limit) as runner,
        progress(stderr(), f"Scoring {placements}{runner.where}"),
    ):
        n = runner.predict(settings, placements, out_file, new_campaign)
    say(stdout(), f"Wrote {out_file}: {n:,} placements scored.")
