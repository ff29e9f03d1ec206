"""The README's "Your own data" commands, run as written on `examples/data`.

Each line of that block is run as written in a fresh workspace that holds the checkout's
`examples/data` (so `models/`, `mlruns/` and the report land there, the store created by
`train`), with `.venv/bin/influence` standing for this interpreter's `influence`.
`validate`, `train` and `compare` run in this process (CliRunner: the same command on the
same arguments, without three more start-ups of the libraries), with Python's own warning
rules, so that any warning a user would see on the terminal fails the test. `serve` runs
as a real process, on a free port (the README leaves the default, 8000), and must answer
`/health` and a `/predict`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.cli import app
from training.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "data"


def _own_data_commands() -> list[list[str]]:
    """The `influence` command lines of the README's "Your own data" block, as arguments."""
    section = README.read_text(encoding="utf-8").split("### Your own data", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith(".venv/bin/influence ")]


def _run_here(args: list[str]) -> str:
    """`influence ARGS...` in this process under Python's default warning filters (what a
    user's terminal shows: not DeprecationWarning and its kin); its stdout, once it succeeded
    with no warning on stderr and none raised."""
    with warnings.catch_warnings(record=True) as raised:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.filterwarnings("ignore", category=quiet)
        warnings.filterwarnings("ignore", category=ResourceWarning)
        done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert [str(w.message) for w in raised] == []
    # Progress lines only (stderr is not a terminal): no warning, since the example is
    # what a clean export gives.
    assert "warning" not in done.stderr, done.stderr
    return done.stdout


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return bytes(answer.read())


def test_the_example_is_what_its_script_writes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_data.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("accounts", "posts", "campaigns", "placements"):
        assert (tmp_path / f"{name}.csv").read_bytes() == (EXAMPLE / f"{name}.csv").read_bytes()


def test_every_own_data_command_runs_as_written_on_the_example(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = _own_data_commands()
    assert [c[0] for c in commands] == ["validate", "train", "compare", "serve"]
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "data").symlink_to(EXAMPLE)
    # The workspace is the working directory, as in a user's shell; no variable moves it.
    monkeypatch.chdir(tmp_path)
    for name in ("INFLUENCE_MLFLOW_TRACKING_URI", "INFLUENCE_MLRUNS_DIR", "INFLUENCE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        outputs = [" ".join(_run_here(args).split()) for args in commands[:-1]]
    finally:
        get_settings.cache_clear()
    validated, trained, compared = outputs
    assert validated == "examples/data is valid."
    # The README quotes these numbers.
    assert "clicks on 8 later campaigns" in trained
    assert (
        "The model bought 1.36 times the clicks per unit cost of the followers baseline "
        "[0.965, 2.25]"
    ) in trained
    assert "Version 1 promoted to champion" in trained
    assert (tmp_path / "report" / "report.html").exists()
    assert compared.startswith("clicks per unit cost on 14 held-out campaigns (4 rolling origins)")
    assert "model 0.154 6.49 1.38 [0.11, 0.257] [3.88, 9.09] [0.834, 3.02]" in compared
    assert "follower rule (biggest first) 0.111 8.97 " in compared

    server = subprocess.Popen(
        [sys.executable, "-m", "serving", *commands[-1], "--port", str(free_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = json.loads(_get(base + "/health"))
                break
            except OSError:  # not listening yet, or 503 while it loads
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "serve did not become ready in 60 s"
                time.sleep(0.3)
        assert health["status"] == "ok"
        # Served on the data it was trained on: /model says so (and serve warned nothing).
        info = json.loads(_get(base + "/model"))
        assert info["data_matches_model"] is True
        # The backtest `compare` logged is the model's page's, on the same data; the README
        # quotes its sentence.
        assert (info["backtest"]["on_model_data"], info["backtest_note"]) == (True, None)
        page = " ".join(_get(base + "/app/model").decode().split()).replace("&#39;", "'")
        assert "It ran on the data this model was trained on (digest " in page
        saved = json.loads((tmp_path / "report" / "report.json").read_text())
        value, low, high = next(
            (r["value"], r["low"], r["high"])
            for r in saved["table"]
            if (r["target"], r["policy"], r["metric"], r["tier"])
            == ("clicks", "model", "times_follower_rule", "all")
        )
        assert (
            f"Refitted at each origin, the model's picks got {value:.3g} times the clicks per "
            f"unit cost of the follower rule's on 14 held-out campaigns (95% interval "
            f"{low:.3g} to {high:.3g}: not clearly better)."
        ) in page
        assert low < 1 < high  # as the README says of it
        report = (tmp_path / "report" / "report.html").read_bytes()
        assert _get(base + "/app/model/backtest") == report
        accounts = pd.read_csv(EXAMPLE / "accounts.csv")["account_id"].head(3)
        body = {
            "campaign": {"brand": "northpeak", "topic": "running shoes"},
            "candidates": [{"account_id": a, "cost": 100.0} for a in accounts],
        }
        request = urllib.request.Request(
            base + "/predict", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            predicted = json.loads(answer.read())
        assert [s["account_id"] for s in predicted["scores"]] == list(accounts)
        assert predicted["model_version"] == "1"
    finally:
        server.terminate()
        _, said = server.communicate(timeout=30)
    assert "warning" not in said, said
