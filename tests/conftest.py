"""Shared fixtures: small simulated worlds written in the data contract."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import Result
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from features.simulate import SimulationConfig, World, simulate_world, write_world

if TYPE_CHECKING:
    from serving.settings import ServingSettings
    from training.settings import TrainingSettings

from tests.processes import (  # noqa: F401 (fixtures: pytest finds them in this module)
    free_port,
    free_ports,
    global_tracking_uri,
    influence_cli,
    postgres_admin_url,
    postgres_url,
    running_server,
    start_server,
    start_training,
)

ROOT = Path(__file__).resolve().parents[1]
"""The checkout these tests belong to."""

SMALL = SimulationConfig(accounts=60, campaigns=6, days=90, candidates=10, seed=3)

# CI (which sets CI=true) draws the same examples on every run, so that its verdict on a
# commit is repeatable. A developer's runs keep exploring new ones and keep what fails in
# the checkout's own .hypothesis/ (wherever pytest is started), so that the next run
# replays a failure first.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("dev", database=DirectoryBasedExampleDatabase(ROOT / ".hypothesis"))
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Modules whose tests fit models or start a Dask cluster themselves; with the tests that use
# the session's trained workspace they are marked `model`, which `make test-fast` leaves out.
FITS_MODELS = frozenset(
    {
        "test_bundle",
        "test_compare",
        "test_distributed",
        "test_cli_dask",
        "test_fitting",
        "test_loading",
        "test_no_global_state",
        "test_partitioned",
        "test_peerindex",
        "test_pipeline",
        "test_python_api",
        "test_registry",
        "test_sparse",
        "test_train",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `model` every test that trains (itself, or through the `trained` or `compared`
    fixture) or needs the Dask cluster, and `slow` every end-to-end test (tests/e2e/)."""
    for item in items:
        path = item.nodeid.split("::")[0]
        module = path.rsplit("/", 1)[-1].removesuffix(".py")
        fixtures = set(getattr(item, "fixturenames", ()))
        # A Dask cluster costs as much as a fit: its tests stay out of the inner loop too.
        if module in FITS_MODELS or fixtures & {"trained", "compared", "dask_cluster"}:
            item.add_marker(pytest.mark.model)
        if path.startswith("tests/e2e/"):  # real processes, crashes, load: slow by nature
            item.add_marker(pytest.mark.slow)


# When each test process (pytest-xdist's workers, `make test`) ran its last test, and which
# file that was: the suite's time is its slower process's, so the two should end together.
_STARTED = time.monotonic()
_LAST: dict[str, tuple[float, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note, in the process that reports the workers' results, when each worker ended a test."""
    worker = getattr(report, "node", None)  # set by xdist on the reports it relays
    if worker is not None and report.when == "teardown":
        _LAST[worker.gateway.id] = (time.monotonic(), report.nodeid.split("::")[0])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per worker: when it ended its last test (after the start) and in which file."""
    for name, (ended, path) in sorted(_LAST.items()):
        minutes, seconds = divmod(round(ended - _STARTED), 60)
        terminalreporter.write_line(f"{name} ended at {minutes} min {seconds:02d} s ({path})")


QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing-interval": "1s",
}
"""Dask's monitoring, which no test reads, made rare: it samples each worker's stack every
10 ms, each event loop every 20 ms and the machine every 0.5 s, which cost the session's
cluster 3.5 s of CPU per 30 s it waited for work (0.45 s with these), and it waits for most
of the session it lives in (measured 2026-12-04, two workers)."""


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """One local Dask cluster (two worker processes of one thread) for the whole session:
    starting one costs seconds, and every Dask test can share it. Its monitoring is
    `QUIET_DASK`'s (set for the session, so also for clusters tests start in this process)."""
    import dask

    from features.distributed import dask_client

    with dask.config.set(QUIET_DASK), dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="session")
def small_world() -> World:
    """A world small enough to build in milliseconds."""
    return simulate_world(SMALL)


TRAINABLE = SimulationConfig(accounts=300, campaigns=20, seed=4)


@pytest.fixture(scope="session")
def trainable_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world big enough to train and backtest on (20 campaigns), small enough for seconds;
    tests copy it before changing it."""
    out = tmp_path_factory.mktemp("trainable") / "world"
    write_world(simulate_world(TRAINABLE), out)
    return out


@pytest.fixture(scope="session")
def small_csv_dir(tmp_path_factory: pytest.TempPathFactory, small_world: World) -> Path:
    """The small world as CSV files; tests copy it before breaking it."""
    out = tmp_path_factory.mktemp("small") / "world"
    write_world(small_world, out, fmt="csv")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a world, a trained champion (all four targets) and its MLflow store.

    Layout: `world/` (data), `models/` (bundles, champion.json), `mlruns/`.
    """
    from training.fitting import TrainConfig
    from training.pipeline import train
    from training.settings import TrainingSettings

    root = tmp_path_factory.mktemp("trained")
    write_world(
        simulate_world(SimulationConfig(accounts=800, campaigns=30, seed=5)), root / "world"
    )
    settings = TrainingSettings.under(root)
    result = train(root / "world", TrainConfig(seed=1), settings)
    assert result.decision is not None
    assert result.decision.promote
    return root


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded MLflow store (`mlflow.db`) with its schema and nothing else, made once
    per process: creating the schema (alembic's migrations) costs a few seconds of CPU, a
    copy milliseconds. Tests that are not about a first-ever store start from a copy, as a
    user's second command does; the first-ever store is tested where it is the point
    (tests/training/tracking/test_store.py, the session's trained workspace, tests/e2e)."""
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


StoredUnder = Callable[[Path], "TrainingSettings"]


@pytest.fixture(scope="session")
def stored_under(empty_store: Path) -> StoredUnder:
    """`stored_under(root)`: `TrainingSettings.under(root)`, its store a copy of `empty_store`."""
    from training.settings import TrainingSettings

    def settings(root: Path) -> TrainingSettings:
        (root / "mlruns").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_store, root / "mlruns" / "mlflow.db")
        return TrainingSettings.under(root)

    return settings


ServingTrained = Callable[..., "ServingSettings"]


@pytest.fixture(scope="session")
def serving_trained(trained: Path) -> ServingTrained:
    """`serving_trained(log_dir, **overrides)`: the serving settings of the trained
    workspace (its world and champion), the decision log `log_dir/decisions.db`, any other
    setting given by name."""
    from serving.settings import ServingSettings

    def settings(log_dir: Path, **overrides: Any) -> ServingSettings:
        values: dict[str, Any] = {
            # The workspace's own store, not the checkout's: the page looks for backtests.
            "home": trained,
            "data_dir": trained / "world",
            "model_uri": str(trained / "models" / "champion.json"),
            "decision_log": str(log_dir / "decisions.db"),
        }
        return ServingSettings(**{**values, **overrides})

    return settings


@pytest.fixture(scope="session")
def compared(
    trainable_world: Path, tmp_path_factory: pytest.TempPathFactory, empty_store: Path
) -> tuple[Path, Result]:
    """(workspace, what it printed): `influence compare` run once per session, in-process
    (CliRunner), on the trainable world: 2 rolling origins, conversions and clicks, 25% of
    each campaign's cost, seed 2, costs in EUR (INFLUENCE_CURRENCY), 80 columns, in a
    workspace of its own (INFLUENCE_HOME): its store `mlruns/mlflow.db` (a copy of
    `empty_store`) holds the run, `report/` the files. About 4 s, shared:
    tests/serving/cli/test_compare.py reads what it printed and wrote, the serving tests
    serve its run as the project's latest backtest."""
    from typer.testing import CliRunner

    from serving.cli import app
    from training.settings import get_settings

    home = tmp_path_factory.mktemp("compared")
    (home / "mlruns").mkdir()
    shutil.copyfile(empty_store, home / "mlruns" / "mlflow.db")
    env = {
        "COLUMNS": "80",
        "INFLUENCE_CURRENCY": "EUR",
        "INFLUENCE_HOME": str(home),
        "INFLUENCE_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}",
    }
    args = [
        *("compare", str(trainable_world), "--out", str(home / "report"), "--folds", "2"),
        *("--targets", "conversions,clicks", "--budget-share", "0.25", "--seed", "2"),
    ]
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    return home, done


@pytest.fixture(scope="session")
def external_addresses() -> Callable[[str], list[str]]:
    """`external_addresses(html)`: every address in a page that is not the app's own (an
    `src`, `href` or CSS `url()` with a scheme other than `data:`), so that a page test can
    check that nothing on it comes from the network."""

    def found(html: str) -> list[str]:
        pairs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(([^)]+)\)""", html)
        urls = [a or b for a, b in pairs]
        return [u for u in urls if re.match(r"^[a-z]+:", u) and not u.startswith("data:")]

    return found


if TYPE_CHECKING:  # the API's shared client, below
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def api_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of `api_client`'s decision log, `decisions.db`."""
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="session")
def api_client(serving_trained: ServingTrained, api_logs: Path) -> Iterator[TestClient]:
    """One app on the trained workspace for the API's read-only tests in several files
    (test_predict, test_rank, test_invalid): loading the state costs about 2 s, and none of
    them changes it. Only test_predict reloads it (once: it counts the reloads)."""
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(serving_trained(api_logs))) as c:
        yield c


@pytest.fixture(scope="session")
def known_accounts(trained: Path) -> list[str]:
    """The first 30 accounts of the trained world's placements, in their order."""
    from features.io import load_dataset

    data = load_dataset(trained / "world")
    return [str(a) for a in data.placements["account_id"].drop_duplicates().head(30)]
