"""`influence materialize` in-process (CliRunner) on the trained workspace: it writes the
champion's snapshot with the data's lineage and says how to serve it; it never writes over
the data directory or a folder that is not a snapshot; `serve` takes one source."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from features.io import load_dataset
from features.snapshot import MANIFEST
from serving.cli import app
from training.workspace import snapshot_folder


def _argv(trained: Path, out: Path, *more: str) -> list[str]:
    champion = str(trained / "models" / "champion.json")
    return ["materialize", str(trained / "world"), "--out", str(out), "--model", champion, *more]


def test_materialize_writes_the_snapshot_training_wrote(trained: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _argv(trained, tmp_path / "snap"))
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())
    data = load_dataset(trained / "world")
    accounts = data.posts["account_id"].nunique()
    assert words.startswith(f"Wrote {tmp_path / 'snap'}: {accounts:,} accounts as of ")
    assert "for model version 1 (" in words
    assert words.endswith(f"Serve it: influence serve --snapshot {tmp_path / 'snap'}")
    written = json.loads((tmp_path / "snap" / MANIFEST).read_text())
    trained_with = json.loads((snapshot_folder(trained / "models", "1") / MANIFEST).read_text())
    assert written == trained_with  # the same data, the same model: the same files, to the byte
    assert written["data_digest"] == data.digest()
    assert (written["model_version"], written["data_dir"]) == ("1", str(trained / "world"))


def test_materialize_never_writes_over_data_or_another_folder(
    trained: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, _argv(trained, trained))
    assert result.exit_code == 2
    assert "is, or holds, the data directory" in " ".join(result.output.split())
    kept = tmp_path / "reports"
    kept.mkdir()
    (kept / "q3.pdf").write_bytes(b"keep me")
    result = CliRunner().invoke(app, _argv(trained, kept))
    assert result.exit_code != 0
    assert (
        f"{kept} exists and is not a snapshot: writing one there would delete it; choose a "
        "new or empty folder." in " ".join(result.output.split())
    )
    assert (kept / "q3.pdf").read_bytes() == b"keep me"


def test_serve_takes_one_source(trained: Path, tmp_path: Path) -> None:
    argv = ["serve", "--data", str(trained / "world"), "--snapshot", str(tmp_path), "--port", "1"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "serves one source: give --data or --snapshot, not both." in " ".join(
        result.output.split()
    )
