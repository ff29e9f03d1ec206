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
        "2025-03-01T12:00:00Z in 1 row: '31/02/2025' on row 9.",
        "- posts.parquet, column 'likes': negative values (expected >= 0) in 1 row: '-5' on row 4.",
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
    # A name that differs in case would be found as the table: it is an input too.
    for out in (world / "posts.csv", world / "accounts.parquet", world / "Posts.CSV"):
        result = CliRunner().invoke(app, ["features", str(world), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert (
            f"Invalid value for --out: {out} is one of this command's inputs; write the output "
            "to another path"
        ) in " ".join(result.stderr.split())
    assert (world / "posts.csv").read_bytes() == before
    assert not (world / "accounts.parquet").exists()
    assert not (world / "Posts.CSV").exists()


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


def _export(small_csv_dir: Path, target: Path) -> Path:
    """The small world as an analyst's export: Posts.csv with semicolons and spreadsheet
    headers, a spend column named its own way, campaign dates written day first."""
    shutil.copytree(small_csv_dir, target)
    posts = pd.read_csv(target / "posts.csv", dtype=str, keep_default_na=False)
    (target / "posts.csv").unlink()
    posts = posts.rename(columns={"followers": "Followers", "posted_at": "Posted At"})
    posts.to_csv(target / "Posts.csv", index=False, sep=";")
    placements = pd.read_csv(target / "placements.csv", dtype=str, keep_default_na=False)
    placements.rename(columns={"cost": "Spend (USD)"}).to_csv(
        target / "placements.csv", index=False
    )
    campaigns = pd.read_csv(target / "campaigns.csv", dtype=str, keep_default_na=False)
    starts = pd.to_datetime(campaigns["starts_at"], utc=True)
    campaigns["starts_at"] = starts.dt.strftime("%d/%m/%Y").where(starts.dt.day > 12, "")
    campaigns.loc[0, "starts_at"] = "25/03/2025"
    campaigns.to_csv(target / "campaigns.csv", index=False)
    (target.parent / "map.toml").write_text('[placements]\ncost = "Spend (USD)"\n')
    return target


def test_validate_reads_an_export_with_columns_and_dayfirst(
    small_csv_dir: Path, tmp_path: Path
) -> None:
    export = _export(small_csv_dir, tmp_path / "export")
    runner = CliRunner()
    refused = runner.invoke(app, ["validate", str(export)])
    assert refused.exit_code == 2, refused.output
    lines = [line.strip() for line in refused.stderr.splitlines() if line.strip().startswith("-")]
    assert lines == [
        "- campaigns.csv, column 'starts_at': values that are not an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z in 1 row: '25/03/2025' on line 2; likely day-first dates "
        "(25/03/2025): pass --dayfirst to read them as day/month/year, or export ISO-8601 "
        "dates (2026-03-25).",
        "- placements.csv, column 'cost': missing; the contract requires it.",
    ]
    options = ["--columns", str(tmp_path / "map.toml"), "--dayfirst"]
    done = runner.invoke(app, ["validate", str(export), *options])
    assert done.exit_code == 0, done.output
    assert " ".join(done.stdout.split()) == f"{export} is valid."
    said = " ".join(done.stderr.split())
    assert "Posts.csv: read as the posts table; the contract names it posts.csv." in said
    assert "Posts.csv: is delimited by semicolons (;), not commas; read as such." in said
    out = tmp_path / "features.parquet"
    built = runner.invoke(app, ["features", str(export), "--out", str(out), *options])
    assert built.exit_code == 0, built.output
    assert len(pd.read_parquet(out)) == len(pd.read_csv(export / "placements.csv"))


def test_a_broken_columns_file_exits_2_naming_it(small_csv_dir: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[placements]\nspend = "Spend"\n')
    done = CliRunner().invoke(app, ["validate", str(small_csv_dir), "--columns", str(mapping)])
    assert done.exit_code == 2, done.output
    assert (
        f"{mapping}, column 'placements.spend': maps 'spend', which is not a column of placements."
    ) in " ".join(done.stderr.split())
