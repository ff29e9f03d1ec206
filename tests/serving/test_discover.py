"""`POST /discover` through a real TestClient on the trained workspace: every known account
priced and scored, the best per unit cost listed, the portfolio within budget beside the
follower rule's, the follower range honoured, refusals in one sentence, the decision logged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from serving.app import create_app
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture
BRIEF = {"brand": "northpeak", "topic": "running shoes marathon"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("discover")


@pytest.fixture(scope="module")
def client(serving_trained: ServingTrained, logs: Path) -> Iterator[TestClient]:
    with TestClient(create_app(serving_trained(logs))) as c:
        yield c


def _discover(client: TestClient, **fields: Any) -> dict[str, Any]:
    answer = client.post("/discover", json={"campaign": BRIEF, "budget": 3000.0, **fields})
    assert answer.status_code == 200, answer.text
    out: dict[str, Any] = answer.json()
    return out


def test_discovery_lists_the_best_priced_accounts_and_buys_within_budget(
    client: TestClient,
) -> None:
    out = _discover(client, limit=15, explain=5)
    state = client.app.state.current  # type: ignore[attr-defined]
    assert out["considered"] == len(state.online.row_of)  # every known account, all scorable
    assert out["errors"] == []
    accounts = out["accounts"]
    assert len(accounts) == 15
    per_cost = [a["outcomes"]["clicks"]["expected"] / a["cost"] for a in accounts]
    assert per_cost == sorted(per_cost, reverse=True)
    for a in accounts:
        assert a["cost_estimated"] is True
        assert a["cost_low"] < a["cost"] < a["cost_high"]
    assert [a["contributions"] is not None for a in accounts] == [True] * 5 + [False] * 10
    assert list(accounts[0]["contributions"]) == ["clicks"]
    portfolio, rule = out["portfolio"], out["follower_rule"]
    assert 0 < portfolio["cost"] <= 3000.0
    assert 0 < rule["cost"] <= 3000.0
    chosen = [c["account_id"] for c in out["chosen"]]
    assert len(chosen) == min(15, len(portfolio["account_ids"])) > 0  # at most `limit` described
    assert set(chosen) <= set(portfolio["account_ids"])
    assert all(c["chosen_by_model"] for c in out["chosen"])
    expected = [c["outcomes"]["clicks"]["expected"] for c in out["chosen"]]
    assert expected == sorted(expected, reverse=True)
    every = _discover(client, limit=500, explain=0)  # the whole portfolio described
    assert len(every["chosen"]) == len(every["portfolio"]["account_ids"])
    assert sum(c["cost"] for c in every["chosen"]) == pytest.approx(every["portfolio"]["cost"])
    ratio = portfolio["totals"]["clicks"]["expected"] / rule["totals"]["clicks"]["expected"]
    assert out["times_follower_rule"] == pytest.approx(ratio)
    assert out["times_follower_rule"] > 1


def test_the_follower_range_is_honoured(client: TestClient) -> None:
    everyone = _discover(client)
    empty = _discover(client, min_followers=9000, max_followers=100)
    assert (empty["considered"], empty["outside_range"]) == (0, everyone["considered"])
    assert empty["portfolio"]["account_ids"] == []
    out = _discover(client, min_followers=2_000, max_followers=20_000, limit=500)
    assert out["considered"] + out["outside_range"] == everyone["considered"]
    assert 0 < out["considered"] < everyone["considered"]
    listed = [a["followers"] for a in out["accounts"] + out["chosen"]]
    assert min(listed) >= 2_000
    assert max(listed) <= 20_000
    assert out["portfolio"]["cost"] <= 3000.0


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        (
            {"objective": "likes"},
            "objective: Input should be 'clicks', 'referrals', 'conversions', 'revenue' or 'roi'",
        ),
        ({"budget": -5}, "budget: Input should be greater than or equal to 0.01"),
    ],
)
def test_a_bad_discovery_is_a_422_saying_what_is_wrong(
    client: TestClient, fields: dict[str, Any], detail: str
) -> None:
    answer = client.post("/discover", json={"campaign": BRIEF, "budget": 3000.0, **fields})
    assert answer.status_code == 422
    assert answer.json()["detail"] == detail


def test_a_discovery_is_logged_as_a_rank_is(client: TestClient, logs: Path) -> None:
    out = _discover(client, min_followers=1000, limit=3)
    engine = create_engine(f"sqlite:///{logs / 'decisions.db'}")
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT endpoint, campaign, candidates, outputs FROM decisions "
                "WHERE request_id = :r"
            ),
            {"r": out["request_id"]},
        ).one()
    engine.dispose()
    assert row.endpoint == "discover"
    assert json.loads(row.campaign) == BRIEF
    assert json.loads(row.candidates) == {
        "budget": 3000.0,
        "objective": "clicks",
        "min_followers": 1000,
        "max_followers": None,
        "limit": 3,
        "explain": 20,
    }
    outputs = json.loads(row.outputs)
    assert outputs["portfolio"] == out["portfolio"]


def test_discovery_needs_the_key_when_one_is_set(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    with TestClient(create_app(serving_trained(tmp_path, api_key="k3y"))) as c:
        body = {"campaign": BRIEF, "budget": 100.0}
        assert c.post("/discover", json=body).status_code == 401
        assert c.post("/discover", json=body, headers={"X-API-Key": "k3y"}).status_code == 200
