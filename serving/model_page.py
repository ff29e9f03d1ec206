"""The words and numbers of the `/app/model` page, from the served manifest (`/model`'s) and
the project's latest backtest (`serving.backtest`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from serving.backtest import BacktestSource, LatestBacktest
from training.evaluation.policies import POLICIES, POLICY_LABELS
from training.units import CostUnit

__all__ = ["FAMILIES", "backtest_page", "model_page", "verdict"]

FAMILIES = {
    "reach": "followers at the last post, their growth and its bursts",
    "resonance": "engagement rate, comments and shares per like, sponsored against organic",
    "relevance": "how close the account's recent captions are to the campaign's brief",
    "track": "what its earlier placements caused, per follower and per amount paid",
}
"""What each feature family is made of, in an analyst's words (Altimeter/Solis)."""


def _g(value: object) -> str:
    return f"{float(value):.3g}" if isinstance(value, int | float) else "–"


def verdict(low: float, high: float, value: float) -> str:
    """What a ratio's 95% interval lets an analyst say: "clearly better" when it lies above
    1, "clearly worse" below, else "not clearly better" (or "not clearly worse" when the
    ratio itself is under 1): the interval holds "no different"."""
    if low > 1:
        return "clearly better"
    if high < 1:
        return "clearly worse"
    return "not clearly worse" if value < 1 else "not clearly better"


def model_page(
    metrics: Mapping[str, Mapping[str, Any]],
    targets: list[str],
    price: Any,
    per: str = "per unit cost",
) -> dict[str, Any]:
    """The page's sentences and table rows, in the model's target order.

    Takes the manifest's `metrics` (per target: the model's, the followers baseline's and
    the heuristic's realised actions per unit cost, the model-over-baseline ratio with its
    95% interval, partial Spearman), the targets, the manifest's `price` (or None) and
    the words for cost (`CostUnit.per()`: "per EUR" when the model was trained with one).
    """
    sentences, rows = [], []
    for target in targets:
        m = metrics.get(target, {})
        ratio = m.get("ratio_vs_followers") or [None, None, None]
        if ratio[0] is not None:
            sentences.append(
                f"Choosing by the model bought {ratio[0]:.3g} times the {target} {per} "
                f"of the followers baseline (95% interval {ratio[1]:.3g} to {ratio[2]:.3g}: "
                f"{verdict(ratio[1], ratio[2], ratio[0])})."
            )
        rows.append(
            {
                "target": target,
                "model": _g(m.get("model")),
                "followers": _g(m.get("followers")),
                "heuristic": _g(m.get("heuristic")),
                "ratio": "–"
                if ratio[0] is None
                else f"{ratio[0]:.3g} [{ratio[1]:.3g}, {ratio[2]:.3g}]",
                "partial": _g(m.get("partial_spearman")),
            }
        )
    words = None
    if price:
        words = (
            f"Estimated prices were off by {price['price/mdape']:.0%} (median) on the later "
            f"placements, a rate per follower's by {price['price/mdape_follower_rate']:.0%}; "
            f"{price['price/coverage']:.0%} of the prices paid fell inside the 90% interval."
        )
    return {"sentences": sentences, "rows": rows, "price": words}


Estimate = tuple[float | None, float | None, float | None]


def _estimate(values: Estimate) -> str:
    """`2.1 [1.4, 3.2]`; a value the report could not give is a dash."""
    value, low, high = values
    return "–" if value is None else f"{_g(value)} [{_g(low)}, {_g(high)}]"


def backtest_page(
    found: LatestBacktest, source: BacktestSource, model_unit: CostUnit | None = None
) -> dict[str, Any]:
    """The backtest section's sentences and table rows, or the note saying how to make one.

    Takes the latest backtest found, where it was looked for (the digests of the model's
    training data and of the data served, the command that backtests the latter) and the
    served model's words for cost (`ServiceState.unit`). Returns `note` alone when there
    is none; else when and how it ran (`ran`), on what data (`data`, and `data_ok` when it
    is the model's), a sentence when its currency is not the model's (`currency`, else
    empty), per target the refitted models' picks against the follower rule in words, with
    whether the 95% interval lets one say better or worse (`sentences`), and per target and
    policy the rate per unit cost and the times the follower rule's, with their 95%
    intervals (`rows`, `per`).
    """
    report = found.report
    if report is None:
        return {"note": found.note}
    s = report.summary
    unit = _unit(s.currency)
    per = unit.per()
    origins = [pd.Timestamp(f.origin) for f in s.folds]
    n = len(origins)
    ran = (
        f"Run {report.ran_at:%Y-%m-%d %H:%M} UTC (MLflow run {report.run_id[:8]} of experiment "
        f"{report.experiment}), over {s.held_out.campaigns} held-out campaigns "
        f"({s.held_out.placements:,} placements) from {n} rolling origin{'s' * (n != 1)}"
        + (f", {min(origins):%Y-%m-%d} to {max(origins):%Y-%m-%d}" if origins else "")
        + ": at each, features and models were refitted on what was known then and judged on "
        f"the campaigns that came next, so these are not the served model's own picks. Every "
        f"policy spent {s.config.budget_share:.0%} of each campaign's candidate cost; the "
        "follower rule is no model: it picks the biggest accounts first, as the market does."
    )
    sentences, rows = [], []
    for target in s.targets():
        value, low, high = s.value(target, "model", "times_follower_rule")
        if value is None or low is None or high is None:
            model = _g(s.value(target, "model", "actions_per_cost")[0])
            rule = _g(s.value(target, "follower_rule", "actions_per_cost")[0])
            sentences.append(
                f"Refitted at each origin, the model's picks got {model} {target} {per} on "
                f"{s.held_out.campaigns} held-out campaigns, the follower rule's {rule}."
            )
        else:
            sentences.append(
                f"Refitted at each origin, the model's picks got {_g(value)} times the "
                f"{target} {per} of the follower rule's on {s.held_out.campaigns} held-out "
                f"campaigns (95% interval {_g(low)} to {_g(high)}: {verdict(low, high, value)})."
            )
        for policy in POLICIES:
            rate = s.value(target, policy, "actions_per_cost")
            if rate[0] is None:
                continue  # not run: the truth needs truth.parquet
            times = s.value(target, policy, "times_follower_rule")
            rows.append(
                {
                    "target": target,
                    "policy": POLICY_LABELS[policy],
                    "rate": _estimate(rate),
                    "times": "" if policy == "follower_rule" else _estimate(times),
                }
            )
    return {
        "ran": ran,
        "data": _data_words(found, source),
        "data_ok": found.on_model_data,
        "currency": _currency_words(unit, model_unit or CostUnit()),
        "sentences": sentences,
        "rows": rows,
        "per": per,
    }


def _unit(text: str | None) -> CostUnit:
    """The report's words for cost; "per unit cost" for a currency that cannot be shown
    (`report.json` is a file anyone who can log a run may write)."""
    try:
        return CostUnit.of(text)
    except ValueError:
        return CostUnit()


def _currency_words(report: CostUnit, model: CostUnit) -> str:
    """A sentence when the backtest's costs and the model's are not said in the same
    currency, else empty: an analyst must not set EUR against USD unawares."""
    if report.currency == model.currency:
        return ""
    if model.currency is None:
        return (
            f"The backtest counted cost in {report.currency}; this model records no currency "
            "(it was trained without one)."
        )
    if report.currency is None:
        return (
            f"The backtest records no currency (compare ran without one); this model counts "
            f"cost in {model.currency}."
        )
    return (
        f"The backtest counted cost in {report.currency}, this model in {model.currency}: "
        "their numbers per unit of cost are not in the same money."
    )


def _data_words(found: LatestBacktest, source: BacktestSource) -> str:
    """Which data the backtest ran on, against the model's and the served data's digests."""
    assert found.report is not None  # only called with a report
    digest = found.report.summary.data_digest[:8]
    model, served = (source.model_digest or "")[:8], source.served_digest[:8]
    if found.on_model_data:
        return f"It ran on the data this model was trained on (digest {digest})."
    if found.on_served_data:
        if not model:
            return f"It ran on the data served (digest {digest}); this model records no digest."
        return f"It ran on the data served (digest {digest}), not this model's (digest {model})."
    if model == served:
        others = f"the data served, which this model was trained on (digest {served})"
    elif model:
        others = f"the data served (digest {served}) or this model's (digest {model})"
    else:
        others = f"the data served (digest {served})"
    return (
        f"It ran on other data ({found.report.summary.data_dir}, digest {digest}) than "
        f"{others}: `{source.command}` backtests the data served."
    )
