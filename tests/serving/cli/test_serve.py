"""`influence predict` run as a real process: its `--out` may not overwrite an input."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture


def test_out_may_not_be_an_input(influence_cli: Cli, small_csv_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    planned = tmp_path / "planned.csv"
    planned.write_text("placement_id,campaign_id,account_id,posted_at,cost\n")
    for out in (planned, world / "placements.csv"):
        result = influence_cli("predict", world, "--placements", planned, "--out", out)
        assert result.returncode == 2, result.stderr
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in result.stderr
    assert planned.read_text() == "placement_id,campaign_id,account_id,posted_at,cost\n"
