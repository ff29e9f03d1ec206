"""The `/rank` use case: one pass through scoring, the budget rules and the answer's shape;
and `rank_candidates`, the use case `/rank`, `/discover`, `influence rank` and the planner
share: a discovery among every known account, the follower range, both portfolios.

A real request is traced (every call between the project's modules, with
`sys.setprofile`): `serving.rank` calls each of its collaborators in one phase, in
order, and none of them calls back into `serving.rank` or into another of them.
Through HTTP, the route calls the use case once, then the decision log; and, on the
session's `api_client`, what `/rank` answers: a portfolio within the budget that beats the
follower rule, estimated costs spent like quoted ones, nothing bought when nothing scores.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from features.builder import FEATURES
from serving import schemas
from serving.app import create_app
from serving.rank import FollowerRange, rank, rank_candidates
from serving.scoring import CandidateIn, candidates_from
from serving.settings import ServingSettings
from serving.state import ServiceState, load_state

PROJECT = ("features.", "training.", "serving.")
DATA_TYPES = {"serving.schemas"}  # pydantic models: data, not a step of the request
CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}

Calls = list[tuple[str, str]]


def _module(frame: FrameType | None) -> str:
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


@contextmanager
def traced() -> Iterator[Calls]:
    """Every call into a project module from another module, as (caller, callee), in order.

    The caller may be outside the project (FastAPI, or a worker thread's entry).
    """
    calls: Calls = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        callee, caller = _module(frame), _module(frame.f_back)
        outside = callee in DATA_TYPES or caller in DATA_TYPES
        if event == "call" and callee != caller and callee.startswith(PROJECT) and not outside:
            calls.append((caller, callee))

    hook: Callable[..., Any] = profile
    threading.setprofile(hook)
    sys.setprofile(hook)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _phases(calls: Calls, of: str) -> list[str]:
    """The modules `of` calls into, consecutive repeats collapsed."""
    out: list[str] = []
    for caller, callee in calls:
        if caller == of and (not out or out[-1] != callee):
            out.append(callee)
    return out


@pytest.fixture(scope="module")
def settings(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    return ServingSettings(
        data_dir=trained / "world",
        model_uri=str(trained / "models" / "champion.json"),
        decision_log=str(tmp_path_factory.mktemp("rank") / "decisions.db"),
    )


@pytest.fixture(scope="module")
def state(settings: ServingSettings) -> ServiceState:
    return load_state(settings)


def _request(state: ServiceState) -> dict[str, Any]:
    known = sorted(state.online.row_of)
    history = [
        {
            "posted_at": f"2025-06-{d:02d}T12:00:00Z",
            "followers": 4000 + d,
            "likes": 200,
            "comments": 9,
            "shares": 3,
            "text": "marathon training and running shoes",
        }
        for d in range(1, 15)
    ]
    return {
        "campaign": CAMPAIGN,
        "budget": 900.0,
        "objective": "roi",
        "explain": 3,
        "candidates": [
            *({"account_id": a, "cost": 100.0 + i} for i, a in enumerate(known[:20])),
            {"account_id": known[0], "cost": 50.0},  # a repeat: an error entry
            {"account_id": known[21], "cost": 80.0, "posted_at": "2025-03-01T00:00:00Z"},
            {"account_id": "newcomer", "cost": 60.0, "history": history},
        ],
    }


def test_the_use_case_passes_through_each_module_once(
    state: ServiceState, settings: ServingSettings
) -> None:
    body = schemas.RankRequest.model_validate(_request(state))
    with traced() as calls:
        answer = rank(body, state, settings)
    assert [e.index for e in answer.errors] == [20]
    assert answer.portfolio.cost <= 900.0
    assert _phases(calls, "serving.rank") == [
        "serving.scoring",
        "features.budget",
        "serving.responses",
    ]
    # Entered once, by this test; nothing of the project calls back into it.
    assert [a for a, b in calls if b == "serving.rank"] == ["tests.serving.test_rank"]
    steps = set(_phases(calls, "serving.rank")) | {"serving.rank"}
    sideways = sorted({(a, b) for a, b in calls if a in steps and b in steps})
    assert [c for c in sideways if c[0] != "serving.rank"] == []
    # What scoring reaches (the online snapshot, the builder for the past and unknown
    # candidates, the model) it reaches itself: those are not steps of the use case.
    reached = {b for a, b in calls if a == "serving.scoring"}
    assert {"features.online", "features.builder", "training.artifacts.bundle"} <= reached


def test_through_http_the_route_calls_the_use_case_then_the_log(
    state: ServiceState, settings: ServingSettings
) -> None:
    with TestClient(create_app(settings)) as client, traced() as calls:
        answer = client.post("/rank", json=_request(state))
    assert answer.status_code == 200, answer.text
    # The use case runs in a worker thread (entered from anyio, once); the route's own
    # calls are the decision log's record, in the log's thread.
    entered = [a for a, b in calls if b == "serving.rank"]
    assert len(entered) == 1
    assert not entered[0].startswith(PROJECT)
    assert {b for a, b in calls if a == "serving.routes"} == {"serving.decisions"}


def test_a_discovery_scores_every_known_account_and_prices_them(state: ServiceState) -> None:
    ranked = rank_candidates(state, CAMPAIGN, None, 2000.0, "clicks", 5000)
    followers = state.online.free[:, FEATURES.index("reach_followers")]
    assert len(ranked.scored) == int((~np.isnan(followers)).sum())
    assert ranked.scored.errors == []
    assert ranked.scored.estimated.all()
    assert (ranked.scored.cost_low < ranked.scored.cost).all()
    assert (ranked.scored.cost < ranked.scored.cost_high).all()
    assert ranked.plans.model.cost <= 2000.0
    assert ranked.plans.follower_rule.cost <= 2000.0
    per_cost = ranked.scored.predictions["clicks"] / ranked.scored.cost
    assert (np.diff(per_cost[ranked.order]) <= 0).all()  # best clicks per unit cost first
    model = ranked.scored.predictions["clicks"][ranked.plans.model.mask].sum()
    rule = ranked.scored.predictions["clicks"][ranked.plans.follower_rule.mask].sum()
    assert ranked.times_follower_rule == pytest.approx(model / rule)
    assert ranked.times_follower_rule > 1


def test_the_follower_range_narrows_a_discovery_and_a_shortlist(state: ServiceState) -> None:
    span = FollowerRange(5_000, 50_000)
    everyone = rank_candidates(state, CAMPAIGN, None, 2000.0, "clicks", 5000)
    inside = rank_candidates(state, CAMPAIGN, None, 2000.0, "clicks", 5000, span)
    assert ((inside.followers >= 5_000) & (inside.followers <= 50_000)).all()
    assert 0 < len(inside.scored) < len(everyone.scored)
    assert len(inside.scored) + inside.outside == len(everyone.scored)
    chosen = everyone.followers[everyone.plans.model.mask]
    assert ((chosen < 5_000) | (chosen > 50_000)).any()  # the range changed the portfolio
    shortlist = [CandidateIn(a, 100.0) for a in everyone.scored.account_ids[:40]]
    narrowed = rank_candidates(state, CAMPAIGN, shortlist, 500.0, "clicks", 5000, span)
    kept = set(narrowed.scored.account_ids)
    first = everyone.followers[:40].tolist()
    assert kept == {
        c.account_id for c, f in zip(shortlist, first, strict=True) if 5_000 <= f <= 50_000
    }
    assert narrowed.outside == 40 - len(kept)


def test_rank_answers_with_the_shared_use_case_s_portfolios(
    state: ServiceState, settings: ServingSettings
) -> None:
    body = schemas.RankRequest.model_validate(_request(state))
    answer = rank(body, state, settings)
    candidates = candidates_from(body.candidates)
    ranked = rank_candidates(state, CAMPAIGN, candidates, 900.0, "roi", 5000)
    mask = ranked.plans.model.mask
    bought = [a for a, m in zip(ranked.scored.account_ids, mask, strict=True) if m]
    assert answer.portfolio.account_ids == bought
    assert answer.portfolio.cost == pytest.approx(ranked.plans.model.cost)


def test_rank_buys_within_budget_and_beats_the_follower_rule(
    api_client: TestClient, known_accounts: list[str]
) -> None:
    candidates = [{"account_id": a, "cost": 100.0 + 10 * i} for i, a in enumerate(known_accounts)]
    for objective in ("clicks", "revenue", "roi"):
        r = api_client.post(
            "/rank",
            json={
                "campaign": CAMPAIGN,
                "candidates": candidates,
                "budget": 1000.0,
                "objective": objective,
            },
        )
        assert r.status_code == 200, r.text
        out = r.json()
        model, rule = out["portfolio"], out["follower_rule"]
        assert model["cost"] <= 1000.0
        assert rule["cost"] <= 1000.0
        key = "revenue" if objective == "roi" else objective
        if objective == "roi":
            assert (
                model["totals"]["revenue"]["expected"] - model["cost"]
                >= rule["totals"]["revenue"]["expected"] - rule["cost"]
            )
        else:
            assert model["totals"][key]["expected"] >= rule["totals"][key]["expected"]
        assert sorted(s["index"] for s in out["chosen"]) == sorted(model["indices"])
        assert all(set(s["contributions"]) == {key} for s in out["chosen"])
        values = [
            s["outcomes"][key]["expected"] - (s["cost"] if objective == "roi" else 0)
            for s in out["chosen"]
        ]
        assert values == sorted(values, reverse=True)
    r = api_client.post(
        "/rank",
        json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 1000.0, "explain": 1},
    )
    chosen = r.json()["chosen"]
    assert chosen[0]["contributions"] is not None
    assert all(s["contributions"] is None for s in chosen[1:])


def test_rank_spends_estimated_costs_like_quoted_ones(
    api_client: TestClient, known_accounts: list[str]
) -> None:
    unquoted = [{"account_id": a} for a in known_accounts[:6]]
    first = api_client.post("/predict", json={"campaign": CAMPAIGN, "candidates": unquoted}).json()[
        "scores"
    ]
    estimates = [s["cost"] for s in first]
    budget = round(sum(estimates) / 2, 2)
    body = {"campaign": CAMPAIGN, "budget": budget, "objective": "clicks"}
    priced = api_client.post("/rank", json={**body, "candidates": unquoted}).json()
    quoted = [
        {"account_id": a, "cost": c} for a, c in zip(known_accounts[:6], estimates, strict=True)
    ]
    as_quotes = api_client.post("/rank", json={**body, "candidates": quoted}).json()
    # The same portfolios as with the estimates quoted: the budget rules cannot tell them apart.
    for key in ("portfolio", "follower_rule"):
        assert priced[key] == as_quotes[key]
    assert 0 < priced["portfolio"]["cost"] <= budget
    assert priced["chosen"]
    assert all(c["cost_estimated"] and c["cost_low"] < c["cost"] for c in priced["chosen"])
    assert not any(c["cost_estimated"] for c in as_quotes["chosen"])


def test_rank_with_no_scorable_candidate_buys_nothing(api_client: TestClient) -> None:
    # Found by schema fuzzing: a 500 (KeyError) when every candidate was unknown.
    r = api_client.post(
        "/rank",
        json={
            "campaign": CAMPAIGN,
            "candidates": [{"account_id": "nobody", "cost": 10}],
            "budget": 50,
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["portfolio"]["account_ids"] == []
    assert out["portfolio"]["totals"]["clicks"] == {"expected": 0.0, "low": 0.0, "high": 0.0}
    assert out["follower_rule"]["cost"] == 0.0
    assert [e["account_id"] for e in out["errors"]] == ["nobody"]
