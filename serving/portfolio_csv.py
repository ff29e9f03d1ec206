"""A ranked campaign as the analyst takes it away: one CSV row per candidate, and a summary.

`influence rank --out portfolio.csv` writes `portfolio_csv`'s bytes, and the planner page's
"Download CSV" is the same bytes for the same inputs (`serving.pages`), so that the file an
analyst downloads is the file the command line writes. Rows come best first, by predicted
objective per unit cost (the order the model spends in). Amounts are rounded to cents,
expected actions to three decimals and ROI to four: precision a spreadsheet shows, no more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.rank import Ranked

__all__ = ["portfolio_csv", "portfolio_table", "summary", "times_words"]


def portfolio_table(ranked: Ranked, targets: list[str]) -> pd.DataFrame:
    """One row per scored candidate of `ranked`, best predicted objective per unit cost
    first: `account_id`, `followers`, `cost` (quoted or estimated), `cost_estimated`,
    `cost_low` and `cost_high` (an estimate's 90% interval, empty for a quote), per target
    T `T_expected`, `T_low` and `T_high` (90% interval), `roi` (when revenue is a target),
    `chosen_by_model` and `chosen_by_follower_rule`."""
    s, rows = ranked.scored, ranked.order
    estimated = s.estimated[rows]
    table: dict[str, object] = {
        "account_id": [s.account_ids[i] for i in rows],
        "followers": np.round(ranked.followers[rows]).astype(np.int64),
        "cost": np.round(s.cost[rows], 2),
        "cost_estimated": estimated,
        "cost_low": np.where(estimated, np.round(s.cost_low[rows], 2), np.nan),
        "cost_high": np.where(estimated, np.round(s.cost_high[rows], 2), np.nan),
    }
    for t in targets:
        for column, key in (
            (f"{t}_expected", t),
            (f"{t}_low", f"{t}_low"),
            (f"{t}_high", f"{t}_high"),
        ):
            table[column] = np.round(s.predictions[key][rows], 3)
    if "roi" in s.predictions:
        table["roi"] = np.round(s.predictions["roi"][rows], 4)
    table["chosen_by_model"] = ranked.plans.model.mask[rows]
    table["chosen_by_follower_rule"] = ranked.plans.follower_rule.mask[rows]
    return pd.DataFrame(table)


def portfolio_csv(ranked: Ranked, targets: list[str]) -> bytes:
    """`portfolio_table` as CSV bytes (UTF-8, `\\n` line ends, `true`/`false`, empty cells
    where there is no value): what `influence rank` writes and the page downloads."""
    table = portfolio_table(ranked, targets)
    for column in ("cost_estimated", "chosen_by_model", "chosen_by_follower_rule"):
        table[column] = np.where(table[column], "true", "false")
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _n(value: float) -> str:
    """A number as a person reads it: thousands separated, whole when large."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def times_words(ranked: Ranked) -> str | None:
    """`2.1 times the clicks of the follower rule's` (net return for `roi`), or None when
    the follower rule's expected objective is not positive."""
    times = ranked.times_follower_rule
    if times is None:
        return None
    what = "net return" if ranked.objective == "roi" else ranked.target
    shown = f"{times:.1f}" if times < 10 else f"{times:,.0f}"
    return f"{shown} times the {what} of the follower rule's"


def summary(ranked: Ranked) -> str:
    """One paragraph in plain words: how many candidates, what each portfolio is expected to
    bring with its 90% interval and what it costs, and how many times the follower rule's."""
    plans, target = ranked.plans, ranked.target
    scored = len(ranked.scored)
    estimated = int(ranked.scored.estimated.sum())
    priced = f", {estimated:,} of them priced by the model" if estimated else ""
    parts = [f"{scored:,} candidates scored{priced}."]
    for name, bought in (
        ("The model's portfolio", plans.model),
        ("the follower rule's", plans.follower_rule),
    ):
        expected, low, high = bought.totals[target]
        accounts = int(bought.mask.sum())
        parts.append(
            f"{name}: {accounts:,} account{'s' if accounts != 1 else ''}, {_n(expected)} "
            f"expected {target} (90%: {_n(low)} to {_n(high)}) for {_n(bought.cost)}"
            + (f" of {_n(ranked.budget)}" if bought is plans.model else "")
        )
    sentence = f"{parts[0]} {parts[1]}; {parts[2]}."
    times = times_words(ranked)
    if times:
        sentence += f" The model's portfolio buys {times}."
    elif ranked.objective == "roi" and plans.follower_rule.mask.any():
        sentence += " The follower rule's is expected to return less than it costs."
    if ranked.outside:
        sentence += f" {ranked.outside:,} candidates were outside the follower range."
    return sentence
