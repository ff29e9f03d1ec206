"""`/predict` through a real TestClient: health and the model's numbers, scores and their
explanations, unknown accounts with a history, the decision log's record, reload and
metrics, the same numbers as batch and training, and costs the price model estimates.

The read-only tests share the session's `api_client` (tests/conftest.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.batch import predict_file
from serving.settings import ServingSettings
from training.artifacts.bundle import FOLDER_MANIFEST, load_bundle, write_bundle

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture


def test_health_and_model(api_client: TestClient, trained: Path) -> None:
    manifest = json.loads((trained / "models" / "champion.json").read_text())
    assert api_client.get("/health").json() == {
        "status": "ok",
        "model_version": manifest["version"],
        "reason": None,
    }
    info = api_client.get("/model").json()
    assert info["version"] == manifest["version"]
    assert info["feature_families"] == ["reach", "resonance", "relevance", "track"]
    assert set(info["metrics"]) == {"clicks", "referrals", "conversions", "revenue"}
    # The price model's numbers on the later campaigns, as train measured them.
    assert info["price"] == manifest["price"]
    assert set(info["price"]) == {"price/mdape", "price/mdape_follower_rate", "price/coverage"}
    assert info["metrics"]["clicks"]["model"] > info["metrics"]["clicks"]["followers"]


def test_predict_scores_explains_and_reports_unscorable(
    api_client: TestClient, known_accounts: list[str]
) -> None:
    body = {
        "campaign": CAMPAIGN,
        "candidates": [
            {"account_id": known_accounts[0], "cost": 200.0},
            {"account_id": "nobody", "cost": 10.0},
            {"account_id": known_accounts[1], "cost": 80.0},
        ],
    }
    r = api_client.post("/predict", json=body)
    assert r.status_code == 200
    out = r.json()
    assert [s["index"] for s in out["scores"]] == [0, 2]
    assert out["errors"] == [
        {
            "index": 1,
            "account_id": "nobody",
            "error": "unknown account_id 'nobody' and no history given; send its recent posts "
            "in `history` to score it",
        }
    ]
    first = out["scores"][0]
    for target, est in first["outcomes"].items():
        assert est["low"] <= est["expected"] <= est["high"], target
        # LightGBM's contributions are on the log scale and add up to the prediction.
        parts = first["contributions"][target]
        assert set(parts) == {"reach", "resonance", "relevance", "track", "bias"}
        assert np.exp(sum(parts.values())) == pytest.approx(est["expected"], rel=1e-6)
    revenue = first["outcomes"]["revenue"]["expected"]
    assert first["roi"] == pytest.approx((revenue - 200.0) / 200.0)
    assert first["cost_per_action"]["clicks"] == pytest.approx(
        200.0 / first["outcomes"]["clicks"]["expected"]
    )
    assert set(first["followers_baseline"]) == {"clicks", "referrals", "conversions", "revenue"}


def test_unknown_account_with_history_is_scored(api_client: TestClient) -> None:
    history = [
        {
            "posted_at": f"2025-06-{d:02d}T12:00:00",
            "followers": 5000 + d,
            "likes": 300,
            "comments": 20,
            "shares": 9,
            "views": 4000,
            "text": "marathon training running shoes",
            "sponsored": False,
        }
        for d in range(1, 11)
    ]
    bad = [dict(history[0], likes=-3)]
    body = {
        "campaign": CAMPAIGN,
        "candidates": [
            {"account_id": "fresh", "cost": 120.0, "history": history},
            {
                "account_id": "broken",
                "cost": 120.0,
                "history": [dict(h) for h in history[:2]]
                + [
                    {
                        "posted_at": "2025-06-01",
                        "followers": 1,
                        "likes": 1,
                        "comments": 1,
                        "shares": 1,
                        "post_id": "dup",
                    },
                    {
                        "posted_at": "2025-06-02",
                        "followers": 1,
                        "likes": 1,
                        "comments": 1,
                        "shares": 1,
                        "post_id": "dup",
                    },
                ],
            },
        ],
    }
    out = api_client.post("/predict", json=body).json()
    assert [s["account_id"] for s in out["scores"]] == ["fresh"]
    assert out["errors"][0]["error"] == (
        "candidates[1].history, column 'post_id': ids already used on an earlier row "
        "in 1 row (row 4)"
    )
    r = api_client.post(
        "/predict",
        json={"campaign": CAMPAIGN, "candidates": [{"account_id": "x", "cost": 1, "history": bad}]},
    )
    assert r.status_code == 422
    assert (
        r.json()["detail"]
        == "candidates[0].history[0].likes: Input should be greater than or equal to 0"
    )


def test_a_decision_records_what_was_asked_and_answered(
    api_client: TestClient, api_logs: Path, known_accounts: list[str]
) -> None:
    history = [{"posted_at": "2025-01-01T00:00:00Z", "followers": 10, "likes": 1, "comments": 0,
                "shares": 0}]  # fmt: skip
    candidates = [
        {"account_id": known_accounts[0], "cost": 50.0, "posted_at": "2030-01-01T00:00:00Z"},
        {"account_id": "newcomer", "cost": 20.0, "history": history},
    ]
    answer = api_client.post(
        "/predict", json={"campaign": CAMPAIGN, "candidates": candidates}
    ).json()
    with sqlite3.connect(api_logs / "decisions.db") as db:
        row = db.execute(
            "SELECT endpoint, model_version, campaign, candidates, outputs FROM decisions "
            "WHERE request_id = ?",
            (answer["request_id"],),
        ).fetchone()
    endpoint, version, campaign, logged, outputs = row
    assert (endpoint, version) == ("predict", answer["model_version"])
    assert json.loads(campaign) == CAMPAIGN
    # Histories are not kept: they can be large, and the data directory holds the known ones.
    assert json.loads(logged) == [
        {"account_id": known_accounts[0], "cost": 50.0, "posted_at": "2030-01-01T00:00:00Z"},
        {"account_id": "newcomer", "cost": 20.0, "posted_at": None},
    ]
    assert json.loads(outputs) == {
        k: v for k, v in answer.items() if k not in {"request_id", "model_version"}
    }


def test_reload_and_metrics(api_client: TestClient, trained: Path) -> None:
    r = api_client.post("/admin/reload")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    text = api_client.get("/metrics").text
    assert 'influence_requests_total{path="/admin/reload",status="200"} 1.0' in text
    assert "influence_ready 1.0" in text


def test_api_batch_and_training_paths_agree(
    api_client: TestClient, trained: Path, serving_trained: ServingTrained, tmp_path: Path
) -> None:
    data = load_dataset(trained / "world")
    placement = data.placements.iloc[[len(data.placements) - 7]]
    row = placement.iloc[0]
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    offline = bundle.predict(
        bundle.builder.transform(data, placement), placement["cost"].reset_index(drop=True)
    )

    api = api_client.post(
        "/predict",
        json={
            "campaign": {
                "brand": str(
                    data.campaigns.set_index("campaign_id").loc[row["campaign_id"], "brand"]
                ),
                "topic": str(
                    data.campaigns.set_index("campaign_id").loc[row["campaign_id"], "topic"]
                ),
            },
            "candidates": [
                {
                    "account_id": row["account_id"],
                    "cost": float(row["cost"]),
                    "posted_at": row["posted_at"].isoformat(),
                }
            ],
        },
    ).json()["scores"][0]

    planned = tmp_path / "planned.csv"
    placement.drop(columns=["clicks", "referrals", "conversions", "revenue"]).to_csv(
        planned, index=False
    )
    predict_file(serving_trained(tmp_path), planned, tmp_path / "scores.csv")
    batch = pd.read_csv(tmp_path / "scores.csv")
    assert list(batch.columns) == [
        "placement_id",
        "campaign_id",
        "account_id",
        "cost",
        "clicks",
        "clicks_low",
        "clicks_high",
        "referrals",
        "referrals_low",
        "referrals_high",
        "conversions",
        "conversions_low",
        "conversions_high",
        "revenue",
        "revenue_low",
        "revenue_high",
        "roi",
    ]
    ids = batch[["placement_id", "campaign_id", "account_id"]].iloc[0].tolist()
    assert ids == placement[["placement_id", "campaign_id", "account_id"]].iloc[0].tolist()
    assert batch["cost"].iloc[0] == float(placement["cost"].iloc[0])
    for target in ("clicks", "referrals", "conversions", "revenue"):
        assert api["outcomes"][target]["expected"] == pytest.approx(
            offline[target].iloc[0], rel=1e-12
        )
        assert batch[target].iloc[0] == pytest.approx(offline[target].iloc[0], rel=1e-12)


# Candidates without a quoted cost: priced by the bundle's price model, and marked so.


def test_predict_estimates_a_missing_cost_and_says_so(
    api_client: TestClient, trained: Path, api_logs: Path, known_accounts: list[str]
) -> None:
    candidates = [
        {"account_id": known_accounts[0], "cost": 200.0},
        {"account_id": known_accounts[1]},
    ]
    r = api_client.post("/predict", json={"campaign": CAMPAIGN, "candidates": candidates})
    assert r.status_code == 200, r.text
    quoted, priced = r.json()["scores"]
    assert (quoted["cost"], quoted["cost_estimated"]) == (200.0, False)
    assert (quoted["cost_low"], quoted["cost_high"]) == (None, None)
    assert priced["cost_estimated"] is True
    assert 0 < priced["cost_low"] < priced["cost"] < priced["cost_high"]
    # The estimate is the bundle's own, from the account's row, and predicted with as a quote.
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    assert bundle.price is not None
    state = api_client.app.state.current  # type: ignore[attr-defined]
    row = state.online.rows([known_accounts[1]], CAMPAIGN)
    expected, low, high = (float(v[0]) for v in bundle.price.estimate(row))
    assert (priced["cost"], priced["cost_low"], priced["cost_high"]) == (expected, low, high)
    clicks = priced["outcomes"]["clicks"]["expected"]
    assert priced["cost_per_action"]["clicks"] == pytest.approx(expected / clicks)
    revenue = priced["outcomes"]["revenue"]["expected"]
    assert priced["roi"] == pytest.approx((revenue - expected) / expected)
    # The log keeps the request as sent (no cost) and the answer with the cost used.
    with sqlite3.connect(api_logs / "decisions.db") as db:
        logged, outputs = db.execute(
            "SELECT candidates, outputs FROM decisions WHERE request_id = ?",
            (r.json()["request_id"],),
        ).fetchone()
    assert json.loads(logged)[1]["cost"] is None
    recorded = json.loads(outputs)["scores"][1]
    assert (recorded["cost"], recorded["cost_estimated"]) == (expected, True)


def test_a_model_without_a_price_model_refuses_unquoted_candidates(
    trained: Path,
    serving_trained: ServingTrained,
    tmp_path: Path,
    known_accounts: list[str],
) -> None:
    # A bundle trained before there was a price model: it loads, serves quoted candidates,
    # and says why it cannot score the others.
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    folder = write_bundle(replace(bundle, price=None), tmp_path / "old")
    uri = str(folder / FOLDER_MANIFEST)
    with TestClient(create_app(serving_trained(tmp_path, model_uri=uri))) as c:
        candidates = [
            {"account_id": known_accounts[0]},
            {"account_id": known_accounts[1], "cost": 90.0},
        ]
        r = c.post("/rank", json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 100})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["errors"] == [
        {
            "index": 0,
            "account_id": known_accounts[0],
            "error": "no cost given, and this model was trained before there was a price "
            "model, so it cannot estimate one; send the quoted `cost`, or serve a model "
            "trained since",
        }
    ]
    assert out["portfolio"]["indices"] in ([], [1])
