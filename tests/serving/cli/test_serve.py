"""`influence serve` as a real process: it says where its workspace's files are, warns when
the data is not the model's, announces itself once it answers, and a busy port is one
sentence; `influence predict` in-process: its `--out` may not overwrite an input, --brand
and --topic go together and describe the plan's one new campaign.

`influence serve` also runs, listening, in tests/serving/test_uvicorn.py,
test_decisions.py and test_settings.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from features.io import load_dataset
from serving.cli import app

ServerFactory = Callable[[Path, int], subprocess.Popen[str]]  # the `start_server` fixture
Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture
ROOT = Path(__file__).resolve().parents[3]


def test_serve_announces_its_url_only_once_it_answers(
    start_server: ServerFactory, trained: Path, free_port: int, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "decisions.db", free_port)
    try:
        assert server.stderr is not None
        assert server.stdout is not None
        # Where the model and the decisions are, first; the data is the model's: no warning.
        assert server.stderr.readline() == (
            f"Workspace {ROOT}, project influence (the default): model "
            f"{trained / 'models' / 'champion.json'}, decisions in {tmp_path / 'decisions.db'}.\n"
        )
        # Blocks until the line is printed; then the first request must already succeed.
        announced = server.stderr.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/health", timeout=10) as r:
            assert r.status == 200
        assert announced == (
            f"Serving on http://127.0.0.1:{free_port} (OpenAPI docs at /docs). Try:\n"
        )
        assert server.stdout.readline().startswith(
            f"curl -s -X POST http://127.0.0.1:{free_port}/predict "
        )
        assert server.stderr.readline() == (
            f"The app, to plan a campaign or vet an account: http://127.0.0.1:{free_port}/app/\n"
        )
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_serve_warns_when_the_data_is_not_the_one_the_model_learned_from(
    trained: Path, small_csv_dir: Path, free_port: int, tmp_path: Path
) -> None:
    champion = trained / "models" / "champion.json"
    manifest = json.loads(champion.read_text())
    served = load_dataset(small_csv_dir).digest()
    note = (
        f"The data in {small_csv_dir} (digest {served[:8]}) is not the data model version "
        f"{manifest['version']} was trained on (digest {manifest['data_digest'][:8]}): if it "
        f"is a newer export of the same brand, train on it (influence train {small_csv_dir}); "
        "if it is another brand's, serve that brand's project (--project NAME)."
    )
    command = ["serve", "--data", str(small_csv_dir), "--port", str(free_port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "serving", *command, "--model", str(champion)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"},
    )
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(f"Workspace {tmp_path}, project influence")
        assert server.stderr.readline() == f"warning: {note}\n"  # whole, at any width
        assert server.stderr.readline().startswith("Serving on ")
        with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/model", timeout=10) as r:
            info = json.loads(r.read())
        assert (info["data_matches_model"], info["data_note"]) == (False, note)
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_serve_on_a_busy_port_is_one_sentence(
    influence_cli: Cli, small_csv_dir: Path, free_port: int, tmp_path: Path
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port))
        other.listen()
        result = influence_cli(
            "serve",
            "--data",
            small_csv_dir,
            "--port",
            str(free_port),
            cwd=tmp_path,
            env={"INFLUENCE_DECISION_LOG": str(tmp_path / "decisions.db"), "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: Port {free_port} is in use: stop the other server or pass --port N.\n"
    )
    assert result.stdout == ""


def test_out_may_not_be_an_input(small_csv_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    planned = tmp_path / "planned.csv"
    planned.write_text("placement_id,campaign_id,account_id,posted_at,cost\n")
    for out in (planned, world / "placements.csv"):
        result = CliRunner().invoke(
            app, ["predict", str(world), "--placements", str(planned), "--out", str(out)]
        )
        assert result.exit_code == 2, result.output
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in " ".join(result.stderr.split())
    assert planned.read_text() == "placement_id,campaign_id,account_id,posted_at,cost\n"


def test_predict_wants_brand_and_topic_together(small_csv_dir: Path, tmp_path: Path) -> None:
    planned = tmp_path / "planned.csv"
    planned.write_text("campaign_id,account_id,posted_at,cost\n")
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(small_csv_dir),
            "--placements",
            str(planned),
            "--out",
            str(tmp_path / "scores.csv"),
            "--brand",
            "Acme",
        ],
    )
    assert result.exit_code == 2, result.output
    assert (
        "Invalid value for --topic: --brand describes a new campaign with --topic; give both."
    ) in " ".join(result.stderr.split())
    assert not (tmp_path / "scores.csv").exists()


def test_predict_names_an_unknown_campaign_and_exits_2(trained: Path, tmp_path: Path) -> None:
    planned = tmp_path / "planned.csv"
    account = pd.read_parquet(trained / "world" / "accounts.parquet")["account_id"].iloc[0]
    planned.write_text(
        f"campaign_id,account_id,posted_at,cost\nlaunch,{account},2030-01-01T00:00:00Z,100\n"
    )
    argv = ["predict", str(trained / "world"), "--placements", str(planned)]
    argv += ["--out", str(tmp_path / "scores.csv")]
    argv += ["--model", str(trained / "models" / "champion.json")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        "error: planned.csv plans campaigns that are not in campaigns.parquet: 'launch'; add "
        "them to campaigns.parquet, or give a new campaign's --brand and --topic."
    )
    result = CliRunner().invoke(app, [*argv, "--brand", "Acme", "--topic", "running shoes"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert scores[["placement_id", "campaign_id"]].values.tolist() == [["planned-1", "launch"]]
