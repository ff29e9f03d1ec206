"""`influence validate`, `simulate` and `features`, run as a real process: exit codes, messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `influence_cli` fixture


def test_simulate_then_validate_then_break_four_rules(influence_cli: Cli, tmp_path: Path) -> None:
    world = tmp_path / "W"
    done = influence_cli("simulate", "--out", world, "--accounts", "2000", "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout
    checked = influence_cli("validate", world)
    assert checked.returncode == 0, checked.stderr
    assert f"{world} is valid." in checked.stdout

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

    result = influence_cli("validate", broken)
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        "- posts.parquet, column 'posted_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row (row 9).",
        "- posts.parquet, column 'likes': negative values (expected >= 0) in 1 row (row 4).",
        "- placements.parquet, column 'cost': missing; the contract requires it.",
        "- placements.parquet, column 'account_id': ids that are not in accounts.parquet "
        "in 1 row (row 1).",
    ]
    assert "Traceback" not in result.stderr


def test_missing_directory_exits_2(influence_cli: Cli, tmp_path: Path) -> None:
    result = influence_cli("validate", tmp_path / "absent")
    assert result.returncode == 2
    assert "is not a directory; give the folder holding the tables." in result.stderr


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


def test_out_may_not_be_an_input(influence_cli: Cli, small_csv_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_csv_dir, world)
    before = (world / "posts.csv").read_bytes()
    for out in (world / "posts.csv", world / "accounts.parquet"):
        result = influence_cli("features", world, "--out", out)
        assert result.returncode == 2, result.stderr
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in result.stderr
    assert (world / "posts.csv").read_bytes() == before
    assert not (world / "accounts.parquet").exists()
