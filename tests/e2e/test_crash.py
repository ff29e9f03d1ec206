"""Crash safety: SIGKILL `influence train` or the server at any moment, lose nothing committed.

A killed training run leaves the previous champion and every exported bundle whole
and loadable, and the next run succeeds. Temporary folders of writes that were cut
short (`models/.NAME.*`, from `atomic_path`; a bundle folder stays one until its
version is registered) may remain: they are hidden, nothing reads them, and they
never replace a file. Every unhidden bundle folder is named by a manifest. A killed
server leaves a decision log that opens and holds every decision it answered.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.io import load_dataset
from features.simulate import SimulationConfig, simulate_world, write_world
from serving.cli import app
from serving.decisions import DecisionLog
from training.artifacts.bundle import load_bundle
from training.settings import get_settings

ServerFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_server` fixture

WORLD = SimulationConfig(accounts=500, campaigns=25, seed=2)


def _every_manifest_loads(models: Path) -> None:
    named = set()
    for manifest in sorted(models.glob("*.json")):
        _, entries = load_bundle(manifest)  # raises if a bundle is partial or does not match
        named |= {name.split("/")[0] for name in entries["files"]}
    # Each bundle folder is named by a manifest, each snapshot by its version's manifest: none
    # was left behind without one.
    named |= {f"{m.stem}.snapshot" for m in models.glob("influence-v*.json")}
    leftovers = [p.name for p in models.iterdir() if p.suffix != ".json" and p.name not in named]
    assert all(name.startswith(".") for name in leftovers), leftovers


TrainFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_training` fixture


def _kill_when(run: subprocess.Popen[str], moment: Callable[[], bool]) -> bool:
    """SIGKILL `run` as soon as `moment()` holds (polled every 10 ms); whether it was killed.

    A run that ends first is left to end: the caller counts the runs that were killed.
    """
    while run.poll() is None:
        if moment():
            run.kill()  # SIGKILL: no cleanup, no finally blocks
            break
        time.sleep(0.01)
    run.communicate(timeout=30)
    return run.returncode == -signal.SIGKILL


@pytest.fixture
def cli_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path
) -> Iterator[Path]:
    """`tmp_path` as the working directory and the workspace of `start_training`'s runs
    (`mlruns/`, a copy of the session's empty store, and `models/`), for `influence train`
    run in this process; the training settings are read afresh, and again after the test."""
    (tmp_path / "mlruns").mkdir()
    shutil.copyfile(empty_store, tmp_path / "mlruns" / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "INFLUENCE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    )
    monkeypatch.setenv("INFLUENCE_MLRUNS_DIR", str(tmp_path / "mlruns"))
    monkeypatch.setenv("INFLUENCE_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _train_here(workspace: Path) -> str:
    """`influence train` as `start_training` runs it, in this process; its output (stdout)."""
    done = CliRunner().invoke(
        app,
        ["train", str(workspace / "world"), "--targets", "clicks", "--seed", "1"],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.mark.slow
def test_killed_training_leaves_the_champion_whole_and_the_next_run_succeeds(
    cli_workspace: Path, start_training: TrainFactory
) -> None:
    # Only the runs that are killed need processes of their own: the champion they must
    # leave whole, and the run after them, are trained here (the same command, the same
    # workspace), which spares two start-ups of the libraries.
    workspace = cli_workspace
    write_world(simulate_world(WORLD), workspace / "world")
    models, store = workspace / "models", workspace / "mlruns" / "mlflow.db"
    assert "Version 1 promoted to champion" in _train_here(workspace)
    champion = models / "champion.json"
    before = champion.read_bytes()

    def running() -> bool:  # the store was written to: the run is open
        return store.stat().st_mtime_ns != written

    def exporting() -> bool:  # the bundle is being written to its hidden folder
        return any(p.name.startswith(".influence-") for p in models.iterdir())

    def promoting() -> bool:  # a new version's manifest is written: promotion comes next
        return set(models.glob("influence-v*.json")) != manifests

    # Killed early (as soon as its run is open in the store: before anything is fitted or
    # exported, the run left RUNNING), then the two moments that matter most: while the
    # bundle is exported, and once its manifest is written, while promotion is decided.
    moments: dict[str, Callable[[], bool]] = {
        "early": running,
        "exporting": exporting,
        "promoting": promoting,
    }
    killed = 0
    for name, moment in moments.items():
        written, manifests = store.stat().st_mtime_ns, set(models.glob("influence-v*.json"))
        killed += _kill_when(start_training(workspace, 1), moment)
        assert champion.read_bytes() == before, f"champion changed by a run killed {name}"
        bundle, manifest = load_bundle(champion)
        assert manifest["version"] == "1"
        assert bundle.targets == ["clicks"]
        _every_manifest_loads(models)

    assert killed >= len(moments) - 1, "most runs must be killed before they end"
    assert "registered as version" in _train_here(workspace)
    assert champion.read_bytes() == before  # same data and seed: it does not earn champion
    _every_manifest_loads(models)
    data = load_dataset(workspace / "world")
    assert json.loads(before)["data_digest"] == data.digest()


def _post(url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@pytest.mark.slow
def test_killed_server_keeps_every_answered_decision(
    trained: Path, start_server: ServerFactory, free_port: int, tmp_path: Path
) -> None:
    port, log = free_port, tmp_path / "decisions.db"
    server = start_server(log, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=5):
                    break
            except OSError:  # not listening yet, or 503 while it loads
                pass
            assert time.monotonic() < deadline, "the server did not become ready in 60 s"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.3)
        accounts = load_dataset(trained / "world").placements["account_id"].unique()[:20]
        body = {
            "campaign": {"brand": "northpeak", "topic": "running shoes"},
            "candidates": [{"account_id": str(a), "cost": 100.0} for a in accounts],
        }
        answered: list[int] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    if _post(base + "/predict", body) == 200:
                        answered.append(1)
                except OSError:  # the server died under this request
                    return

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(3)
        server.kill()
        server.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=10)
    assert answered, "no request was answered before the kill"
    decisions = DecisionLog(str(log))
    try:
        # Every answer was committed before it was sent; a decision committed just
        # before the kill, whose answer never left, may be there too.
        assert decisions.count() >= len(answered)
    finally:
        decisions.close()
