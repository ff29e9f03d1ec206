"""The words, numbers and bars of the planner's pages (`/app/` and `/app/plan`).

The form's fields are read here as an analyst types them (`5,000` is five thousand) and
refused in plain sentences; the answer (`serving.discover.answer`) becomes the page's
comparison of both portfolios and, per chosen account, its explanation in words and as a
bar per feature family. Contributions are on the model's log scale: a family's `c` makes
the expected value exp(c) times what it would be for the model's average account, so the
page says "relevance raises expected clicks by 40%" for exp(c) - 1 = 0.4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from features.builder import FAMILIES
from serving.plan_schemas import Discovered, DiscoverResponse
from serving.rank import FollowerRange
from serving.schemas import Campaign, Objective, Portfolio

__all__ = ["OBJECTIVES", "PlanForm", "plan_view", "read_form"]

OBJECTIVES: dict[str, str] = {
    "clicks": "Clicks",
    "referrals": "Referrals",
    "conversions": "Conversions",
    "revenue": "Revenue",
    "roi": "Return on investment (net revenue)",
}
"""The objective select's options, as the form shows them."""

FAMILY_WORDS = {
    "reach": "reach",
    "resonance": "resonance",
    "relevance": "relevance",
    "track": "track record",
}
ONE = {"clicks": "click", "referrals": "referral", "conversions": "conversion"}
ONE["revenue"] = "unit of revenue"
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_BAR_WIDTH = 220
_BAR_ROW = 16


@dataclass(frozen=True)
class PlanForm:
    """The planner form's fields, as typed (`values`, shown again with the problems) and
    as read (None where a field has a problem)."""

    values: dict[str, str]
    campaign: dict[str, str] | None = None
    budget: float | None = None
    objective: Objective = "clicks"
    followers: FollowerRange = field(default_factory=FollowerRange)
    problems: list[str] = field(default_factory=list)


def _number(text: str) -> float | None:
    """A number as typed: `5000`, `5,000` or `5000.50`; None for anything else."""
    cleaned = text.strip()
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_form(fields: Mapping[str, str]) -> PlanForm:
    """The planner's fields read, or the sentences saying what is wrong with them.

    Takes the form's text fields (`brand`, `topic`, `budget`, `objective`,
    `min_followers`, `max_followers`). The budget is at least a cent, the follower
    bounds whole numbers of 0 or more with the lower not above the upper.
    """
    values = {
        k: str(fields.get(k, "")).strip()
        for k in ("brand", "topic", "budget", "objective", "min_followers", "max_followers")
    }
    problems: list[str] = []
    campaign = None
    try:
        campaign = Campaign(brand=values["brand"], topic=values["topic"]).model_dump()
    except ValidationError as e:
        for error in e.errors():
            name = str(error["loc"][0])
            if not values[name]:
                problems.append(f"Give the campaign's {name}.")
            else:
                problems.append(f"The {name} {error['msg'][0].lower()}{error['msg'][1:]}.")
    budget = _number(values["budget"])
    if budget is None or not 0.01 <= budget <= 1e12:
        shown = f" ({values['budget']!r} is not)" if values["budget"] else ""
        problems.append(f"Give the budget as a number of at least 0.01, such as 5000{shown}.")
        budget = None
    objective = values["objective"] or "clicks"
    if objective not in OBJECTIVES:
        problems.append(f"The objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}.")
        objective = "clicks"
    bounds: list[float | None] = []
    for name, words in (("min_followers", "at least"), ("max_followers", "at most")):
        text = values[name]
        count = _number(text) if text else None
        if text and (count is None or count < 0 or count != int(count)):
            problems.append(f"Followers {words} must be a whole number of 0 or more, not {text!r}.")
            count = None
        bounds.append(count)
    low, high = bounds
    if low is not None and high is not None and low > high:
        problems.append(
            f"Followers at least ({low:,.0f}) is above followers at most ({high:,.0f})."
        )
    return PlanForm(
        values=values,
        campaign=campaign,
        budget=budget,
        objective=objective,  # type: ignore[arg-type]  # one of OBJECTIVES, checked above
        followers=FollowerRange(low, high),
        problems=problems,
    )


def _money(value: float) -> str:
    return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def _change(c: float) -> tuple[str, float]:
    """What a contribution `c` does to the expected value, in words, and exp(c) - 1."""
    factor = math.exp(c)
    if factor >= 2:
        return f"multiplies it by {factor:.1f}", factor - 1
    if factor <= 0.5:
        return f"divides it by {1 / factor:.1f}", factor - 1
    pct = abs(factor - 1)
    verb = "raises" if factor >= 1 else "lowers"
    return f"{verb} it by {pct:.0%}", factor - 1


def _explanation(account: Discovered, target: str, scale: float) -> dict[str, Any]:
    parts = (account.contributions or {}).get(target, {})
    families = [(f, parts.get(f, 0.0)) for f in FAMILIES]
    said = [
        f"{FAMILY_WORDS[f]} {_change(c)[0]}"
        for f, c in sorted(families, key=lambda fc: -abs(fc[1]))
        if abs(math.exp(c) - 1) >= 0.01
    ]
    words = (
        f"Against the model's average account, expected {target}: " + "; ".join(said) + "."
        if said
        else f"Expected {target} close to the model's average account's."
    )
    bars = []
    half = _BAR_WIDTH / 2
    for k, (f, c) in enumerate(families):
        length = min(abs(c) / scale, 1.0) * (half - 4) if scale > 0 else 0.0
        change = _change(c)[1]
        bars.append(
            {
                "y": k * _BAR_ROW,
                "x": half if c >= 0 else half - length,
                "width": round(length, 1),
                "label": FAMILY_WORDS[f],
                "value": "0%" if abs(change) < 0.005 else f"{change:+.0%}",
                "up": c >= 0,
            }
        )
    return {"words": words, "bars": bars, "height": len(families) * _BAR_ROW, "width": _BAR_WIDTH}


def _side(bought: Portfolio, target: str) -> dict[str, str]:
    expected = bought.totals[target]
    per_action = bought.cost / expected.expected if expected.expected > 0 else math.inf
    return {
        "accounts": f"{len(bought.account_ids):,}",
        "cost": _money(bought.cost),
        "expected": f"{_count(expected.expected)}",
        "interval": f"{_count(expected.low)} to {_count(expected.high)}",
        "per_action": _money(per_action) if math.isfinite(per_action) else "–",
        "roi": "–" if bought.roi is None else f"{bought.roi:.0%}",
    }


def plan_view(answer: DiscoverResponse, target: str, times: str | None) -> dict[str, Any]:
    """The answer page's context: both portfolios side by side (`model`, `rule`) and the
    chosen accounts (`chosen`), each with its cost (estimated ones marked, with their
    interval), expected objective with its 90% interval and explanation (`why`)."""
    explained = [c.contributions.get(target, {}) for c in answer.chosen if c.contributions]
    scale = max(
        (abs(v) for parts in explained for f, v in parts.items() if f in FAMILIES), default=0.0
    )
    chosen = []
    for c in answer.chosen:
        outcome = c.outcomes[target]
        chosen.append(
            {
                "account_id": c.account_id,
                "followers": "–" if c.followers is None else f"{c.followers:,.0f}",
                "cost": _money(c.cost),
                "estimated": c.cost_estimated,
                "cost_interval": (
                    f"{_money(c.cost_low)} to {_money(c.cost_high)}"
                    if c.cost_low is not None and c.cost_high is not None
                    else ""
                ),
                "expected": _count(outcome.expected),
                "interval": f"{_count(outcome.low)} to {_count(outcome.high)}",
                "per_action": "–"
                if c.cost_per_action.get(target) is None
                else _money(float(c.cost_per_action[target] or 0.0)),
                "roi": "–" if c.roi is None else f"{c.roi:.0%}",
                "why": _explanation(c, target, scale),
            }
        )
    return {
        "target": target,
        "one": ONE.get(target, target),
        "model": _side(answer.portfolio, target),
        "rule": _side(answer.follower_rule, target),
        "times": times,
        "chosen": chosen,
        "errors": [f"{e.account_id}: {e.error}." for e in answer.errors],
    }
