"""`influence predict` in-process: its `--out` may not overwrite an input.

`influence serve` runs as a real process, listening, in tests/serving/test_uvicorn.py,
test_decisions.py and test_settings.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from serving.cli import app


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
