"""Request examples for the OpenAPI schema that succeed when sent as they are.

Swagger UI's "Try it out" sends a route's first example unchanged, so an example
naming an account the service does not know would only show an error. Two
examples per scoring route, then:

- `served_accounts` (first, when data is loaded): the served data's own accounts,
  those with the most posts, for its latest campaign's brand and topic. Built from
  the state in force, so the schema shows the user's accounts, not the demo's, and
  follows a reload (the schema is built per request of /openapi.json: a few
  milliseconds, and it is rarely asked for).
- `new_account`: an account the data does not have, scored from the `history` it
  carries; it works against any data (were its id known, the history is ignored
  and the known account is scored).

`/discover` sends no candidates: its first example is the served data's latest campaign
(the demo's without data) among every known account, which any data with priced accounts
answers with a portfolio; its second narrows the range to micro accounts.
"""

from __future__ import annotations

import copy
import heapq
from typing import Any

from pydantic import ValidationError

from serving.schemas import Campaign
from serving.state import ServiceState

__all__ = ["SCORING_ROUTES", "latest_campaign", "request_examples", "with_examples"]

SCORING_ROUTES = ("/predict", "/rank", "/discover")

KNOWN = 4
"""How many of the served accounts the examples name."""
COSTS = (250.0, 400.0, 150.0, 300.0)
BUDGET = 600.0
"""Less than the four costs together, so that /rank has to choose."""
DISCOVERY_BUDGET = 5000.0
"""A campaign's budget for /discover: a few dozen of the smaller accounts' prices."""

DEMO_CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon training"}

NEW_ACCOUNT = {
    "account_id": "new_account_example",
    "cost": 120.0,
    "history": [
        {
            "post_id": f"example-{day}",
            "posted_at": f"2025-06-{day:02d}T12:00:00Z",
            "followers": 5000 + 10 * day,
            "likes": 300,
            "comments": 20,
            "shares": 9,
            "views": 4000,
            "text": "marathon training week: long run in new running shoes",
            "sponsored": False,
        }
        for day in range(1, 11)
    ],
}


def latest_campaign(state: ServiceState) -> dict[str, str]:
    """The brand and topic of the data's latest campaign (by `starts_at` where given,
    else the last row); the demo's when the data has none, or one the API would refuse."""
    campaigns = state.histories.campaigns
    if campaigns.empty:
        return dict(DEMO_CAMPAIGN)
    starts = campaigns.get("starts_at")
    latest = int(starts.argmax()) if starts is not None and starts.notna().any() else -1
    row = campaigns.iloc[latest]
    campaign = {"brand": str(row["brand"]), "topic": str(row["topic"])}
    try:  # a brief too long for the API (a pasted document) must not make a failing example
        Campaign.model_validate(campaign)
    except ValidationError:
        return dict(DEMO_CAMPAIGN)
    return campaign


def _served_accounts(state: ServiceState) -> list[str]:
    """The accounts with the most posts, ties by id, so the choice is repeatable."""
    counts = state.post_counts
    return heapq.nsmallest(KNOWN, counts, key=lambda a: (-counts[a], a))


def request_examples(state: ServiceState | None) -> dict[str, dict[str, Any]]:
    """Per scoring route, its named OpenAPI examples (`summary` and `value`), the
    served data's first when `state` is loaded.

    The values are bodies that route answers with 200 and every candidate scored.
    """
    bodies: dict[str, tuple[str, dict[str, Any]]] = {}
    if state is not None:
        candidates = [
            {"account_id": a, "cost": c}
            for a, c in zip(_served_accounts(state), COSTS, strict=False)
        ]
        bodies["served_accounts"] = (
            "Accounts of the served data",
            {"campaign": latest_campaign(state), "candidates": candidates},
        )
    bodies["new_account"] = (
        "An account the data does not have, with its recent posts",
        {"campaign": DEMO_CAMPAIGN, "candidates": [NEW_ACCOUNT]},
    )
    within = {"budget": BUDGET, "objective": "clicks"}
    campaign = latest_campaign(state) if state is not None else dict(DEMO_CAMPAIGN)
    brief = {"campaign": campaign, "budget": DISCOVERY_BUDGET, "objective": "clicks"}
    return {
        "/predict": {n: {"summary": s, "value": v} for n, (s, v) in bodies.items()},
        "/rank": {
            n: {"summary": f"{s}, within a budget", "value": {**v, **within}}
            for n, (s, v) in bodies.items()
        },
        "/discover": {
            "anyone": {"summary": "The best of every known account", "value": brief},
            "micro": {
                "summary": "Accounts of 10,000 to 100,000 followers only, the best 10 listed",
                "value": {**brief, "min_followers": 10_000, "max_followers": 100_000, "limit": 10},
            },
        },
    }


def with_examples(schema: dict[str, Any], state: ServiceState | None) -> dict[str, Any]:
    """A copy of the OpenAPI `schema` whose scoring routes carry `request_examples(state)`
    on their JSON request body; `schema` itself is left as it was."""
    out = copy.deepcopy(schema)
    for path, examples in request_examples(state).items():
        body = out["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        body["examples"] = examples
    return out
