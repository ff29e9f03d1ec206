"""`influence validate`, `simulate` and `features`: exit codes and messages, in-process except
where the process itself matters (a user without a permission)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.cli import app


def test_simulate_then_validate_then_break_four_rules(tmp_path: Path) -> None:
    world = tmp_path / "W"
    runner = CliRunner()
    done = runner.invoke(
        app, ["simulate", "--out", str(world), "--accounts", "2000", "--seed", "7"]
    )
    assert done.exit_code == 0, done.output
    assert " ".join(done.stdout.split()).startswith(f"Wrote {world}: 2,000 accounts,")
    checked = runner.invoke(app, ["validate", str(world)])
    assert checked.exit_code == 0, checked.output
    assert " ".join(checked.stdout.split()) == f"{world} is valid."

    broken = tmp_path / "broken"
    shutil.copytree(world, broken)
    posts = pd.read_parquet(broken / "posts.parquet")
    posts["likes"] = posts["likes"].astype("int64")
    posts.loc[3, "likes"] = -5
    posts["posted_at"] = posts["posted_at"].astype(str)
    posts.loc[8, "posted_at"] = "31/02/2025"
    posts.to_parquet(broken / "posts.parquet")
    placements = pd.read_parquet(broken / "placements.parquet")
    placements.loc[0, "account_id"] = "nobody"
    placements.drop(columns=["cost"]).to_parquet(broken / "placements.parquet")

    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        "- posts.parquet, column 'posted_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row (row 9).",
        "- posts.parquet, column 'likes': negative values (expected >= 0) in 1 row (row 4).",
        "- placements.parquet, column 'cost': missing; the contract requires it.",
        "- placements.parquet, column 'account_id': ids that are not in accounts.parquet "
        "in 1 row (row 1).",
    ]
    assert result.stderr.startswith(
        f"Validating {broken} ...\n{broken} breaks the data contract in 4 places:\n"
    )


def test_a_folder_this_user_may_not_search_is_one_sentence_per_table(
    small_csv_dir: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "serving", "validate"]
    if os.geteuid() == 0:
        # Root passes every permission check; without these two capabilities it does not.
        if shutil.which("setpriv") is None:
            pytest.skip("as root, this needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
        drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        command = [*drop, *command]
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    world.chmod(0o644)  # listable, not searchable: every look-up inside it is refused
    try:
        result = subprocess.run(
            [*command, str(world)],
            capture_output=True,
            text=True,
            check=False,
            env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
        )
    finally:
        world.chmod(0o755)
    assert result.returncode == 2, result.stderr
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        f"- {name}.csv: cannot be looked up in {world}: Permission denied."
        for name in ("accounts", "posts", "campaigns", "placements")
    ]
    assert "bug in influence" not in result.stderr


def test_out_may_not_be_an_input(small_csv_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    before = (world / "posts.csv").read_bytes()
    for out in (world / "posts.csv", world / "accounts.parquet"):
        result = CliRunner().invoke(app, ["features", str(world), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in " ".join(result.stderr.split())
    assert (world / "posts.csv").read_bytes() == before
    assert not (world / "accounts.parquet").exists()


def test_features_writes_one_row_per_placement(small_csv_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    done = CliRunner().invoke(app, ["features", str(small_csv_dir), "--out", str(out)])
    assert done.exit_code == 0, done.output
    table = pd.read_parquet(out)
    placements = pd.read_csv(small_csv_dir / "placements.csv")
    assert table["placement_id"].tolist() == placements["placement_id"].astype(str).tolist()
    assert " ".join(done.stdout.split()) == (
        f"Wrote {out}: {len(table):,} rows, {table.shape[1] - 4} features."
    )
