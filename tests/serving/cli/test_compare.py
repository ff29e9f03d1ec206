"""`influence compare` in-process: its options reach the backtest, its tables fit 80 columns."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from click.testing import Result


def test_compare_prints_every_policy_s_numbers_within_80_columns(
    compared: tuple[Path, Result], fits: Callable[..., None]
) -> None:
    """Also in a currency, from INFLUENCE_CURRENCY: the tables, the sentences and the report
    name it (without one they say "per unit cost": tests/training/backtest/test_compare.py).
    The command ran once for the session (the `compared` fixture: 2 folds, targets
    conversions,clicks, budget share 0.25, seed 2, 80 columns)."""
    workspace, done = compared
    report = workspace / "report"
    where, *progress = done.stderr.splitlines()
    assert where == (
        f"Workspace {workspace}, project influence (the default): models in "
        f"{workspace / 'models'}, runs in sqlite:///{workspace / 'mlruns' / 'mlflow.db'}."
    )
    assert progress[:2] == ["Backtesting ...", "Backtesting: validating the data ..."]
    assert [re.sub(r"as of \S+", "as of DATE", line) for line in progress[2:4]] == [
        "Backtesting: fold 1 of 2: refitting as of DATE ...",
        "Backtesting: fold 2 of 2: refitting as of DATE ...",
    ]
    assert progress[4:] == [
        "Backtesting: spending every policy's budget on the held-out campaigns ...",
        "Backtesting: writing the report and logging it to MLflow ...",
    ]
    fits(done.stdout)
    saved = json.loads((report / "report.json").read_text())
    config = saved["config"]
    assert (config["folds"], config["budget_share"], config["seed"]) == (2, 0.25, 2)
    assert config["targets"] == ["conversions", "clicks"]  # as asked: conversions leads

    # Shown in the contract's order, whatever the flag's: the printed tables, the report's
    # tables, its files, and the folds' rounds.
    ordered = ["clicks", "conversions"]
    titles = re.findall(r"^(\w+) per EUR on \d+ held-out", done.stdout, re.MULTILINE)
    assert titles == ordered
    page = (report / "report.html").read_text()
    sections = re.findall(r"<h3>(\w+)</h3>", page)
    assert sections == ordered * 2  # the policy tables, then the tier tables
    assert list(dict.fromkeys(r["target"] for r in saved["table"])) == ordered
    assert list(saved["gain_curves"]) == list(saved["importance_by_family"]) == ordered
    assert re.search(r"model rounds</th>.*<td>clicks \d+, conversions \d+</td>", page, re.S)
    # The summary still leads with the target asked for first.
    assert re.search(r"by the model bought [\d.]+ conversions per EUR, against", page)
    assert saved["currency"] == "EUR"
    # The report's words for cost name the currency: its tables and its summary.
    assert "<th>clicks per EUR [95% CI]</th><th>EUR per click</th>" in page
    assert "<th>conversions per EUR [95% CI]</th><th>EUR per conversion</th>" in page
    summary = table_row(report, "conversions", "cost_per_action")
    assert re.search(rf"at {summary:.3g} EUR per conversion against [\d.e+]+ EUR;", page)
    assert "Realised per EUR of what each policy bought in a tier" in page

    # Every policy's rate and difference from the report, whole, in the printed tables.
    table = pd.read_csv(report / "report.csv")
    assert list(dict.fromkeys(table["target"])) == ordered
    table = table[(table["tier"] == "all") & (table["policy"] != "candidates")]
    shown = done.stdout.split()
    metrics = ("actions_per_cost", "cost_per_action", "times_follower_rule")
    for metric, spec in ((m, ".3g") for m in metrics):
        rows = table[table["metric"] == metric].dropna(subset=["value"])
        assert len(rows) >= 2 * 5
        for row in rows.itertuples():
            value, low, high = (format(x, spec) for x in (row.value, row.low, row.high))
            assert value in shown, (row.target, row.policy, metric)
            assert f"[{low}, {high}]" in done.stdout, (row.target, row.policy, metric)
    text = " ".join(shown)
    assert f"Report: {report / 'report.html'}" in text
    assert " in experiment influence-compare; " in text
    assert {p.name for p in report.iterdir()} == {"report.html", "report.json", "report.csv"}
    assert "clicks per EUR on 10 held-out campaigns (2 rolling origins)" in text
    # The headers, per target: "clicks / per EUR" and "EUR per / click" over two lines.
    assert len(re.findall(r"^ +\w+ +EUR per +times the$", done.stdout, re.MULTILINE)) == 2
    assert "follower rule (biggest first)" in done.stdout
    model = table[(table["policy"] == "model") & (table["metric"] == "times_follower_rule")]
    for row in model.itertuples():
        assert (
            f"The model bought {row.value:.3g} times the {row.target} per EUR of the "
            f"follower-count rule (95% interval {row.low:.3g} to {row.high:.3g})."
        ) in text


def table_row(report: Path, target: str, metric: str) -> float:
    """The model's pooled `metric` for `target` in the report's tidy table."""
    table = pd.read_csv(report / "report.csv")
    row = table[
        (table["target"] == target)
        & (table["policy"] == "model")
        & (table["metric"] == metric)
        & (table["tier"] == "all")
    ]
    return float(row["value"].iloc[0])
