"""The backtest report: one self-contained HTML file, and the same numbers as JSON and CSV.

The HTML opens offline: the figures are PNGs embedded as base64 `data:` URIs, the style
is inline, and there is no script, font or link to fetch. `report.csv` is the tidy
table (target, policy, tier, metric, value, low, high; tier "all" when pooled over
tiers); `report.json` holds the same rows plus the configuration, the folds, the gain
curves, the calibration bins and the importance per family. Every file is written
beside its target and renamed into place.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from features.io import atomic_path, write_table
from training.backtest.plots import (
    plot_calibration,
    plot_gains,
    plot_importance,
    plot_policy_rates,
    plot_tiers,
)
from training.backtest.rolling import Backtest, BacktestConfig
from training.evaluation.metrics import BOOTSTRAP_RESAMPLES
from training.evaluation.policies import POLICIES, POLICY_LABELS, TIERS, Comparison
from training.learners.importance import family_shares
from training.units import CostUnit

__all__ = ["FIGURES", "ReportFiles", "payload", "render_html", "write_report"]

FIGURES = 5
"""Images in the HTML: policy rates, gain curves, calibration, importance, tiers."""

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       padding: 0 1em; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right;
         white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
small { color: #666; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.lead { font-size: 1.1em; background: #f4f7fb; padding: 0.8em 1em; border-radius: 6px; }
.note { color: #555; font-size: 0.9em; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went."""

    html: Path
    json: Path
    csv: Path


def _num(value: float) -> str:
    if math.isinf(value):  # an interval that no resample bounds: nothing was bought
        return "∞" if value > 0 else "-∞"
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def _ci(values: tuple[float, ...], signed: bool = False) -> str:
    value, low, high = values
    if not math.isfinite(value):
        return ""
    head = f"{value:+.3g}" if signed else _num(value)
    return f"{head}\n[{_num(low)}, {_num(high)}]"


def _clean(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def payload(
    backtest: Backtest, comparison: Comparison, config: BacktestConfig, meta: dict[str, object]
) -> dict[str, object]:
    """The report's numbers as plain data for JSON (NaN becomes null)."""
    frame = backtest.frame
    data = {
        "generator": "influence compare",
        **meta,
        "config": {**asdict(config), "targets": list(config.targets)},
        "held_out": {
            "campaigns": int(frame["campaign_id"].nunique()),
            "placements": len(frame),
        },
        "folds": [f.describe() for f in backtest.folds],
        "table": comparison.table.to_dict("records"),
        "gain_curves": {t: g.to_dict("list") for t, g in comparison.gains.items()},
        "calibration": {t: c.to_dict("records") for t, c in comparison.calibration.items()},
        "importance_by_family": family_shares(backtest.importance).to_dict("index"),
    }
    cleaned = _clean(data)
    assert isinstance(cleaned, dict)
    return cleaned


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _cell(text: str) -> str:
    """One cell; a second line (an interval) is set smaller, below the value."""
    first, _, second = text.partition("\n")
    small = f"<br><small>{html.escape(second)}</small>" if second else ""
    return f"<td>{html.escape(first)}{small}</td>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _policy_table(comparison: Comparison, target: str, unit: CostUnit) -> str:
    c = comparison
    head = ["policy", f"{target} {unit.per()} [95% CI]", unit.cost_per(target)]
    head += ["times the follower rule", "model minus policy", "policy minus follower rule"]
    head += ["Spearman", "partial on log followers", "NDCG@10"]
    rows = []
    for p in POLICIES:
        rate = c.value(target, p, "actions_per_cost")
        if not math.isfinite(rate[0]):
            continue
        rows.append(
            [
                POLICY_LABELS[p],
                _ci(rate),
                _ci(c.value(target, p, "cost_per_action")),
                _ci(c.value(target, p, "times_follower_rule")),
                _ci(c.value(target, p, "model_minus_policy"), signed=True),
                _ci(c.value(target, p, "minus_follower_rule"), signed=True),
                _ci(c.value(target, p, "spearman")),
                _ci(c.value(target, p, "partial_spearman")),
                _ci(c.value(target, p, "ndcg_at_10")),
            ]
        )
    return f"<h3>{html.escape(target)}</h3>" + _table(head, rows)


def _tier_table(comparison: Comparison, target: str) -> str:
    policies = [p for p in (*POLICIES, "candidates") if p in set(comparison.table["policy"])]
    head = ["tier", *(POLICY_LABELS[p] for p in policies)]
    rows = []
    for tier, _ in TIERS:
        cells = [tier]
        for p in policies:
            rate = comparison.value(target, p, "actions_per_cost", tier)[0]
            share = comparison.value(target, p, "spend_share", tier)[0]
            cells.append(f"{_num(rate)}\n{share:.0%} of spend" if math.isfinite(share) else "")
        rows.append(cells)
    return f"<h3>{html.escape(target)}</h3>" + _table(head, rows)


def _summary(
    backtest: Backtest, comparison: Comparison, config: BacktestConfig, unit: CostUnit
) -> str:
    target = config.targets[0]
    model = comparison.value(target, "model", "actions_per_cost")
    rule = comparison.value(target, "follower_rule", "actions_per_cost")
    diff = comparison.value(target, "follower_rule", "model_minus_policy")
    times = comparison.value(target, "model", "times_follower_rule")
    per = comparison.value(target, "model", "cost_per_action")
    per_rule = comparison.value(target, "follower_rule", "cost_per_action")[0]
    base = comparison.value(target, "followers", "model_minus_policy")
    truth = comparison.value(target, "truth", "actions_per_cost")[0]
    campaigns = backtest.frame["campaign_id"].nunique()
    text = (
        f"On {campaigns} held-out campaigns ({len(backtest.folds)} rolling origins), spending "
        f"{config.budget_share:.0%} of each campaign's candidate cost by the model bought "
        f"{_num(model[0])} {target} {unit.per()}, against {_num(rule[0])} for the "
        f"follower-count rule: {_num(times[0])} times as many (95% interval "
        f"{_num(times[1])} to {_num(times[2])}), at {_cost_per(per[0], target, unit)} against "
        f"{unit.amount(_num(per_rule))}; a paired difference of "
        f"{_ci(diff, signed=True)} "
        f"(95% campaign bootstrap), and {_ci(base, signed=True)} over the followers baseline."
    )
    if math.isfinite(truth):
        text += f" Spending by the truth would have bought {_num(truth)}."
    return text


def _cost_per(value: float, target: str, unit: CostUnit) -> str:
    """A cost per action in words: "6.49 EUR per click", or "6.49 of cost per click"."""
    if unit.currency:
        return f"{_num(value)} {unit.cost_per(target)}"
    return f"{_num(value)} of {unit.cost_per(target)}"


def render_html(
    backtest: Backtest,
    comparison: Comparison,
    config: BacktestConfig,
    meta: dict[str, object],
    unit: CostUnit = CostUnit(),
) -> str:
    """The whole report as one HTML document with its figures embedded; `unit` words its
    costs ("per EUR" when a currency is configured, else "per unit cost")."""
    targets = list(config.targets_in_order)
    primary = config.targets[0]  # the first asked for leads the summary and the tier chart
    folds = [
        [
            *(str(v) for v in (f.index, f.origin.date(), f.train_campaigns, f.train_placements)),
            *(str(v) for v in (f.campaigns, f.placements)),
            ", ".join(f"{t} {r}" for t, r in f.rounds.items()),
        ]
        for f in backtest.folds
    ]
    fold_head = ["fold", "origin", "training campaigns", "training placements"]
    fold_head += ["held-out campaigns", "held-out placements", "model rounds"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>influence: backtest against follower-count baselines</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Backtest: the model against follower-count baselines</h1>",
        f'<p class="lead">{html.escape(_summary(backtest, comparison, config, unit))}</p>',
        f'<p class="note">Data: {html.escape(str(meta.get("data_dir", "")))} '
        f"(digest {html.escape(str(meta.get('data_digest', ''))[:12])}); MLflow run "
        f"{html.escape(str(meta.get('run_id', '')))}.</p>",
        "<h2>What the same budget bought</h2>",
        _img(plot_policy_rates(comparison, targets, unit), f"actions {unit.per()} by policy"),
        *(_policy_table(comparison, t, unit) for t in targets),
        "<h2>Cumulative gain</h2>",
        "<p class=\"note\">Each campaign's candidates in the policy's order; the share of all "
        "realised actions captured as a share of the candidates' cost is spent.</p>",
        _img(plot_gains(comparison, targets), "cumulative gain curves"),
        "<h2>Calibration of the model</h2>",
        _img(plot_calibration(comparison, targets), "calibration"),
        "<h2>What the model learned from</h2>",
        _img(plot_importance(backtest.importance), "importance per feature family"),
        "<h2>By follower tier</h2>",
        f'<p class="note">Realised {html.escape(unit.per())} of what each policy bought in a '
        "tier, and the share of its spend there. Tiers by displayed followers: nano &lt; 10k, "
        "micro 10k-100k, mid 100k-500k, macro 500k-1M, mega &ge; 1M.</p>",
        _img(plot_tiers(comparison, primary, unit), "breakdown by follower tier"),
        *(_tier_table(comparison, t) for t in targets),
        "<h2>Method</h2>",
        f'<p class="note">{html.escape(_method(config))}</p>',
        _table(fold_head, folds),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _method(config: BacktestConfig) -> str:
    return (
        f"Campaigns are ordered by their first placement; the latest {config.holdout_share:.0%} "
        f"are cut into {config.folds} blocks, one per fold. At each fold's origin (its first "
        "placement) the feature state and the models are refitted on the placements whose "
        f"{config.window_days}-day attribution window had closed by then, the number of boosting "
        "rounds chosen by early stopping on the latest 20% of those campaigns; they then predict "
        f"the block. Each policy spends {config.budget_share:.0%} of every held-out campaign's "
        "candidate cost greedily in its own order. Intervals are 95% bootstrap intervals over "
        f"campaigns ({BOOTSTRAP_RESAMPLES} resamples), paired: both policies of a difference use "
        f"the same resamples. Random is the mean of {config.random_draws} seeded random orders."
    )


def write_report(
    out_dir: Path,
    backtest: Backtest,
    comparison: Comparison,
    config: BacktestConfig,
    meta: dict[str, object],
    unit: CostUnit = CostUnit(),
) -> ReportFiles:
    """Write report.html, report.json and report.csv into `out_dir`, each atomically; `unit`
    words the HTML's costs (the numbers are the same in any unit)."""
    out_dir = Path(out_dir)
    files = ReportFiles(out_dir / "report.html", out_dir / "report.json", out_dir / "report.csv")
    write_table(comparison.table, files.csv)
    with atomic_path(files.json) as tmp:
        data = payload(backtest, comparison, config, meta)
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    with atomic_path(files.html) as tmp:
        tmp.write_text(render_html(backtest, comparison, config, meta, unit), encoding="utf-8")
    return files
