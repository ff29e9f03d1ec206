"""`influence rank` in-process (CliRunner) on the trained workspace: a spreadsheet's messy
shortlist is read, the portfolio CSV has exactly its columns, a bad shortlist is one error
naming file, column, rows and values with nothing written, and without a shortlist every
known account in the follower range is a candidate, priced by the model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from features.io import load_dataset
from serving.cli import app

COLUMNS = [
    "account_id",
    "followers",
    "cost",
    "cost_estimated",
    "cost_low",
    "cost_high",
    *[
        f"{t}_{s}"
        for t in ("clicks", "referrals", "conversions", "revenue")
        for s in ("expected", "low", "high")
    ],
    "roi",
    "chosen_by_model",
    "chosen_by_follower_rule",
]


def _argv(trained: Path, out: Path, *more: str) -> list[str]:
    return [
        "rank",
        str(trained / "world"),
        "--brand",
        "northpeak",
        "--topic",
        "running shoes marathon",
        "--budget",
        "1500",
        "--out",
        str(out),
        "--model",
        str(trained / "models" / "champion.json"),
        *more,
    ]


def _accounts(trained: Path, n: int) -> list[str]:
    ids = load_dataset(trained / "world").posts["account_id"].drop_duplicates()
    return [str(a) for a in ids.head(n)]


def test_a_spreadsheet_s_shortlist_gives_the_portfolio_csv(trained: Path, tmp_path: Path) -> None:
    a = _accounts(trained, 6)
    shortlist = tmp_path / "Shortlist.csv"
    lines = ["Account ID; Cost ;Notes", f"{a[0]};1,250;big", f"{a[1]};;ask", f"{a[2]}; 300 ;"]
    lines += [f"{x};{90 + i}.5;" for i, x in enumerate(a[3:])]
    shortlist.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    out = tmp_path / "portfolio.csv"
    done = CliRunner().invoke(app, _argv(trained, out, "--shortlist", str(shortlist)))
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    assert sorted(table["account_id"]) == sorted(a)
    row = table.set_index("account_id")
    assert row.loc[a[0], "cost"] == 1250.0
    assert row.loc[a[2], "cost"] == 300.0
    assert row.loc[a[1], "cost_estimated"]
    assert row.loc[a[1], "cost_low"] < row.loc[a[1], "cost"] < row.loc[a[1], "cost_high"]
    assert not row.drop(index=a[1])["cost_estimated"].any()
    assert row.drop(index=a[1])["cost_low"].isna().all()  # no interval for a quote
    text = out.read_text().splitlines()
    assert {line.rsplit(",", 2)[1] for line in text[1:]} <= {"true", "false"}
    chosen = table[table["chosen_by_model"]]
    assert 0 < chosen["cost"].sum() <= 1500
    per_cost = table["clicks_expected"] / table["cost"]
    assert (per_cost.diff().dropna() <= 1e-3).all()  # best per unit cost first, as rounded
    # Wrapped to the terminal's width, which differs between runs: compared as words.
    summary = " ".join(done.stdout.split())
    assert summary.startswith("6 candidates scored, 1 of them priced by the model. The model's")
    assert "expected clicks (90%: " in summary
    assert "of 1,500; the follower rule's: " in summary
    assert summary.endswith(f". Wrote {out}: 6 candidates.")


def test_a_bad_shortlist_is_one_error_naming_its_rows_and_writes_nothing(
    trained: Path, tmp_path: Path
) -> None:
    a = _accounts(trained, 3)
    shortlist = tmp_path / "shortlist.csv"
    rows = [f"{a[0]},$120", f'{a[1]},"12,5"', "nobody,80", f"{a[0]},70", f"{a[2]},8.2K"]
    shortlist.write_text("account_id,cost\n" + "\n".join(rows) + "\n")
    out = tmp_path / "portfolio.csv"
    done = CliRunner().invoke(app, _argv(trained, out, "--shortlist", str(shortlist)))
    assert done.exit_code == 2, done.output
    assert done.stderr.splitlines()[-4:] == [
        "error: The shortlist cannot be used as it is: 3 problems:",
        "  - shortlist.csv, column 'account_id': ids already used on an earlier row in 1 row "
        "(line 5).",
        "  - shortlist.csv, column 'account_id': accounts the served data does not hold in 1 "
        "row: 'nobody' on line 4.",
        "  - shortlist.csv, column 'cost': values that are not a number >= 0 in 3 rows: '$120' "
        "on line 2, '12,5' on line 3, '8.2K' on line 6; likely abbreviated numbers (8.2K): "
        "export the full numbers (K and M are not read: 8.2K may stand for anything from 8,150 "
        "to 8,249); or currency symbols ($120): export plain numbers (120), one currency per "
        "column; or decimal commas (12,5): export numbers with a decimal point (12.5).",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shortlist.csv"]


def test_without_a_shortlist_every_known_account_in_range_is_a_candidate(
    trained: Path, tmp_path: Path
) -> None:
    out = tmp_path / "discovered.csv"
    argv = _argv(trained, out, "--min-followers", "3000", "--objective", "roi")
    done = CliRunner().invoke(app, argv)
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    assert table["followers"].min() >= 3000
    assert table["cost_estimated"].all()
    known = load_dataset(trained / "world").posts["account_id"].nunique()
    outside = known - len(table)
    assert outside > 0
    words = " ".join(done.stdout.split())  # wrapped to the terminal's width
    assert f"{outside:,} candidates were outside the follower range." in words
    bought = table[table["chosen_by_model"]]
    assert 0 < bought["cost"].sum() <= 1500
    assert (bought["revenue_expected"] > bought["cost"]).all()  # roi buys no expected loss
