"""The API through a real TestClient: answers, explanations, bad input, keys, the log."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.batch import predict_file
from serving.decisions import DecisionLog
from serving.settings import ServingSettings
from training.artifacts.bundle import FOLDER_MANIFEST, load_bundle, write_bundle

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}


def settings_for(root: Path, tmp: Path, **overrides: Any) -> ServingSettings:
    values: dict[str, Any] = {
        "data_dir": root / "world",
        "model_uri": str(root / "models" / "champion.json"),
        "decision_log": str(tmp / "decisions.db"),
        **overrides,
    }
    return ServingSettings(**values)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared client's folder: its decision log is `decisions.db` here."""
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def client(trained: Path, workdir: Path) -> Iterator[TestClient]:
    """One app for the module's read-only tests: loading the state costs about 2 s, and
    none of them changes it (a reload loads the same model and data)."""
    with TestClient(create_app(settings_for(trained, workdir))) as c:
        yield c


@pytest.fixture(scope="module")
def accounts(trained: Path) -> list[str]:
    data = load_dataset(trained / "world")
    return [str(a) for a in data.placements["account_id"].drop_duplicates().head(30)]


def test_health_and_model(client: TestClient, trained: Path) -> None:
    manifest = json.loads((trained / "models" / "champion.json").read_text())
    assert client.get("/health").json() == {
        "status": "ok",
        "model_version": manifest["version"],
        "reason": None,
    }
    info = client.get("/model").json()
    assert info["version"] == manifest["version"]
    assert info["feature_families"] == ["reach", "resonance", "relevance", "track"]
    assert set(info["metrics"]) == {"clicks", "referrals", "conversions", "revenue"}
    # The price model's numbers on the later campaigns, as train measured them.
    assert info["price"] == manifest["price"]
    assert set(info["price"]) == {"price/mdape", "price/mdape_follower_rate", "price/coverage"}
    assert info["metrics"]["clicks"]["model"] > info["metrics"]["clicks"]["followers"]


def test_predict_scores_explains_and_reports_unscorable(
    client: TestClient, accounts: list[str]
) -> None:
    body = {
        "campaign": CAMPAIGN,
        "candidates": [
            {"account_id": accounts[0], "cost": 200.0},
            {"account_id": "nobody", "cost": 10.0},
            {"account_id": accounts[1], "cost": 80.0},
        ],
    }
    r = client.post("/predict", json=body)
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


def test_unknown_account_with_history_is_scored(client: TestClient) -> None:
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
    out = client.post("/predict", json=body).json()
    assert [s["account_id"] for s in out["scores"]] == ["fresh"]
    assert out["errors"][0]["error"] == (
        "candidates[1].history, column 'post_id': ids already used on an earlier row "
        "in 1 row (row 4)"
    )
    r = client.post(
        "/predict",
        json={"campaign": CAMPAIGN, "candidates": [{"account_id": "x", "cost": 1, "history": bad}]},
    )
    assert r.status_code == 422
    assert (
        r.json()["detail"]
        == "candidates[0].history[0].likes: Input should be greater than or equal to 0"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"campaign": {"topic": "x"}, "candidates": [{"account_id": "a", "cost": 1}]},
            "campaign.brand: Field required",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": "abc"}]},
            "candidates[0].cost: Value error, expected a JSON number, not text",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": -5}]},
            "candidates[0].cost: Input should be greater than or equal to 0.01",
        ),
        (
            {
                "campaign": CAMPAIGN,
                "candidates": [{"account_id": "a", "cost": 5, "posted_at": "next tuesday"}],
            },
            "candidates[0].posted_at: Value error, expected an ISO-8601 timestamp such as "
            "2025-03-01T12:00:00Z",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": []},
            "candidates: List should have at least 1 item after validation, not 0",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 5, "followers": 9}]},
            "candidates[0].followers: Extra inputs are not permitted",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 5}], "budget": 0},
            "budget: Input should be greater than or equal to 0.01",
        ),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_and_where(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    path = "/rank" if "budget" in body else "/predict"
    r = client.post(path, json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == message


RANK_BODY = '{"campaign": {"brand": "b", "topic": "t"}, "budget": BUDGET, "explain": EXPLAIN, '
RANK_BODY += '"candidates": [{"account_id": ACCOUNT, "cost": COST}]}'


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"COST": "NaN"}, "candidates[0].cost: NaN is not a JSON number"),
        ({"BUDGET": "Infinity"}, "budget: Infinity is not a JSON number"),
        ({"COST": "1e400"}, "candidates[0].cost: 1e400 is too large for a 64-bit float."),
        ({"ACCOUNT": '"\\ud800"'}, "candidates[0].account_id: Value error, holds a lone surrogate"),
        ({"EXPLAIN": '"3"'}, "explain: Value error, expected a JSON number, not text"),
        ({"EXPLAIN": "3.5"}, "explain: Input should be a valid integer, got a number with a"),
        ({"BUDGET": '"100"'}, "budget: Value error, expected a JSON number, not text"),
        ({"EXPLAIN": "true"}, "explain: Value error, expected a number, not true or false"),
    ],
)
def test_values_json_cannot_carry_or_of_the_wrong_kind_are_422_naming_the_field(
    client: TestClient, values: dict[str, str], message: str
) -> None:
    body = RANK_BODY
    for name, default in {"BUDGET": "500", "EXPLAIN": "3", "ACCOUNT": '"a"', "COST": "5"}.items():
        body = body.replace(name, values.get(name, default))
    r = client.post("/rank", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(message)
    assert r.json()["errors"] is not None


@pytest.mark.parametrize(
    ("path", "extra", "cost", "message"),
    [
        # Found by schema fuzzing: each was a 500 (a float overflow in ROI, cost per
        # action or the knapsack's weights).
        (
            "/predict",
            {},
            1e308,
            "candidates[0].cost: Input should be less than or equal to 1000000000000",
        ),
        (
            "/predict",
            {},
            5e-324,
            "candidates[0].cost: Input should be greater than or equal to 0.01",
        ),
        (
            "/rank",
            {"budget": 5e-324},
            100.0,
            "budget: Input should be greater than or equal to 0.01",
        ),
    ],
)
def test_absurd_money_is_422_not_500(
    client: TestClient,
    accounts: list[str],
    path: str,
    extra: dict[str, Any],
    cost: float,
    message: str,
) -> None:
    candidates = [{"account_id": accounts[0], "cost": cost}]
    r = client.post(path, json={"campaign": CAMPAIGN, "candidates": candidates, **extra})
    assert r.status_code == 422
    assert r.json()["detail"] == message


def test_true_false_and_epoch_numbers_are_refused(client: TestClient) -> None:
    # Found by schema fuzzing: pydantic's lax mode read JSON true as a cost or count of 1,
    # and a number as a Unix time, where the schema documents numbers and ISO-8601 text.
    history = [{"posted_at": 1748736000, "followers": True, "likes": 1, "comments": 1, "shares": 1}]
    r = client.post(
        "/predict",
        json={
            "campaign": CAMPAIGN,
            "candidates": [{"account_id": "x", "cost": True, "history": history}],
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "candidates[0].cost: Value error, expected a number, not true or false; "
        "candidates[0].history[0].posted_at: Value error, expected an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z; "
        "candidates[0].history[0].followers: Value error, expected a number, not true or false"
    )


@pytest.mark.parametrize("posted_at", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00"])
def test_timestamps_outside_the_calendar_in_utc_are_422(
    client: TestClient, accounts: list[str], posted_at: str
) -> None:
    # Found by schema fuzzing: converting these to UTC overflowed into a 500, then a 422 for
    # requests the schema called valid; now the schema and the service both stop at years 2
    # to 9998.
    candidates = [{"account_id": accounts[0], "cost": 10.0, "posted_at": posted_at}]
    r = client.post("/rank", json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 50})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "candidates[0].posted_at: Value error, expected a timestamp from year 0002 to 9998, "
        "such as 2025-03-01T12:00:00Z"
    )


def test_rank_with_no_scorable_candidate_buys_nothing(client: TestClient) -> None:
    # Found by schema fuzzing: a 500 (KeyError) when every candidate was unknown.
    r = client.post(
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


def test_error_answers_are_documented_as_sent(client: TestClient) -> None:
    # Found by schema fuzzing: the schema promised FastAPI's default 422 body (a list
    # in `detail`) and no 400, 401, 413 or 503, while the app sends a sentence.
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]["responses"]
    assert set(predict) == {"200", "400", "401", "403", "408", "413", "422", "503"}
    schema = predict["422"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/InvalidRequest"}
    r = client.post(
        "/predict", content=b'{"a": "\xff"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {
        "detail": "The body is not UTF-8 text (byte 7 is b'\\xff'); send JSON encoded as UTF-8."
    }


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert (
        r.json()["detail"]
        == "body: not valid JSON (Expecting property name enclosed in double quotes) at character 1"
    )


def test_too_many_candidates_and_oversized_bodies(trained: Path, tmp_path: Path) -> None:
    settings = settings_for(trained, tmp_path, max_candidates=2, max_body_bytes=2048)
    with TestClient(create_app(settings)) as c:
        r = c.post(
            "/predict",
            json={"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 1}] * 3},
        )
        assert r.status_code == 413
        assert r.json()["detail"] == (
            "The request has more than 2 candidates; at most 2 are accepted. "
            "Split it into several requests."
        )
        big = {
            "campaign": {"brand": "b", "topic": "x" * 3000},
            "candidates": [{"account_id": "a", "cost": 1}],
        }
        r = c.post("/predict", json=big)
        assert r.status_code == 413
        assert r.json()["detail"].startswith(
            "The request body is larger than the limit of 2048 bytes"
        )


def test_api_key_guards_everything_but_health(
    trained: Path, tmp_path: Path, accounts: list[str]
) -> None:
    settings = settings_for(trained, tmp_path, api_key="s3cret")
    with TestClient(create_app(settings)) as c:
        assert c.get("/health").status_code == 200
        for method, path in (
            ("get", "/model"),
            ("get", "/metrics"),
            ("post", "/predict"),
            ("post", "/admin/reload"),
        ):
            r = getattr(c, method)(path)
            assert r.status_code == 401, path
            assert r.json() == {
                "detail": "Missing or wrong API key: send it in the X-API-Key header."
            }
        assert c.get("/model", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/model", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_no_model_or_tampered_model_is_503_with_reason(trained: Path, tmp_path: Path) -> None:
    with TestClient(
        create_app(settings_for(trained, tmp_path, model_uri=str(tmp_path / "none.json")))
    ) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert (
            r.json()["reason"] == f"no model: No model manifest at {tmp_path / 'none.json'}; "
            "run `influence train` to create one."
        )
        r = c.post(
            "/predict", json={"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 1}]}
        )
        assert r.status_code == 503
    models = tmp_path / "models"
    shutil.copytree(trained / "models", models)
    manifest = json.loads((models / "champion.json").read_text())
    (models / manifest["bundle"]).write_bytes(b"not a model")
    with TestClient(
        create_app(settings_for(trained, tmp_path, model_uri=str(models / "champion.json")))
    ) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert "does not match its manifest" in r.json()["reason"]
    # A manifest naming a file outside its folder, with the file's right sha256.
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not a model")
    manifest["files"]["../outside.txt"] = hashlib.sha256(b"not a model").hexdigest()
    (models / "probe.json").write_text(json.dumps(manifest))
    with TestClient(
        create_app(settings_for(trained, tmp_path, model_uri=str(models / "probe.json")))
    ) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert r.json()["reason"] == (
            f"no model: The model manifest {models / 'probe.json'} is refused: its entry "
            f"'../outside.txt' goes up a folder with '..'; a manifest may name only files "
            f"inside its own folder ({models})."
        )
    with TestClient(create_app(settings_for(trained, tmp_path, data_dir=None))) as c:
        assert c.get("/health").json()["reason"].startswith("no data: set INFLUENCE_DATA_DIR")


def test_rank_buys_within_budget_and_beats_the_follower_rule(
    client: TestClient, accounts: list[str]
) -> None:
    candidates = [{"account_id": a, "cost": 100.0 + 10 * i} for i, a in enumerate(accounts)]
    for objective in ("clicks", "revenue", "roi"):
        r = client.post(
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
    r = client.post(
        "/rank",
        json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 1000.0, "explain": 1},
    )
    chosen = r.json()["chosen"]
    assert chosen[0]["contributions"] is not None
    assert all(s["contributions"] is None for s in chosen[1:])


def test_every_answer_is_in_the_decision_log(
    trained: Path, tmp_path: Path, accounts: list[str]
) -> None:
    settings = settings_for(trained, tmp_path)
    with TestClient(create_app(settings)) as c:
        ids = []
        for a in accounts[:5]:
            ids.append(
                c.post(
                    "/predict",
                    json={"campaign": CAMPAIGN, "candidates": [{"account_id": a, "cost": 50}]},
                ).json()["request_id"]
            )
        ids.append(
            c.post(
                "/rank",
                json={
                    "campaign": CAMPAIGN,
                    "candidates": [{"account_id": accounts[0], "cost": 50}],
                    "budget": 100,
                },
            ).json()["request_id"]
        )
        c.post("/predict", json={"campaign": CAMPAIGN, "candidates": []})  # refused: not a decision
    log = DecisionLog(settings.decision_log)
    assert log.count() == 6
    assert len(set(ids)) == 6


def test_a_decision_records_what_was_asked_and_answered(
    client: TestClient, workdir: Path, accounts: list[str]
) -> None:
    history = [{"posted_at": "2025-01-01T00:00:00Z", "followers": 10, "likes": 1, "comments": 0,
                "shares": 0}]  # fmt: skip
    candidates = [
        {"account_id": accounts[0], "cost": 50.0, "posted_at": "2030-01-01T00:00:00Z"},
        {"account_id": "newcomer", "cost": 20.0, "history": history},
    ]
    answer = client.post("/predict", json={"campaign": CAMPAIGN, "candidates": candidates}).json()
    with sqlite3.connect(workdir / "decisions.db") as db:
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
        {"account_id": accounts[0], "cost": 50.0, "posted_at": "2030-01-01T00:00:00Z"},
        {"account_id": "newcomer", "cost": 20.0, "posted_at": None},
    ]
    assert json.loads(outputs) == {
        k: v for k, v in answer.items() if k not in {"request_id", "model_version"}
    }


def test_reload_and_metrics(client: TestClient, trained: Path) -> None:
    r = client.post("/admin/reload")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    text = client.get("/metrics").text
    assert 'influence_requests_total{path="/admin/reload",status="200"} 1.0' in text
    assert "influence_ready 1.0" in text


def test_api_batch_and_training_paths_agree(
    client: TestClient, trained: Path, tmp_path: Path
) -> None:
    data = load_dataset(trained / "world")
    placement = data.placements.iloc[[len(data.placements) - 7]]
    row = placement.iloc[0]
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    offline = bundle.predict(
        bundle.builder.transform(data, placement), placement["cost"].reset_index(drop=True)
    )

    api = client.post(
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
    predict_file(settings_for(trained, tmp_path), planned, tmp_path / "scores.csv")
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


def test_loaded_state_is_kept_out_of_the_collector_and_freed_on_reload(
    trained: Path, tmp_path: Path
) -> None:
    import gc
    import weakref

    app = create_app(settings_for(trained, tmp_path))
    with TestClient(app) as c:
        # Frozen: full collections during requests do not walk the loaded state.
        assert gc.get_freeze_count() > 100_000
        old = weakref.ref(app.state.current)
        assert c.post("/admin/reload").status_code == 200
        assert app.state.current is not old()
        assert old() is None  # the previous state was freed, not kept by the freeze


# Candidates without a quoted cost: priced by the bundle's price model, and marked so.


def test_predict_estimates_a_missing_cost_and_says_so(
    client: TestClient, trained: Path, workdir: Path, accounts: list[str]
) -> None:
    candidates = [{"account_id": accounts[0], "cost": 200.0}, {"account_id": accounts[1]}]
    r = client.post("/predict", json={"campaign": CAMPAIGN, "candidates": candidates})
    assert r.status_code == 200, r.text
    quoted, priced = r.json()["scores"]
    assert (quoted["cost"], quoted["cost_estimated"]) == (200.0, False)
    assert (quoted["cost_low"], quoted["cost_high"]) == (None, None)
    assert priced["cost_estimated"] is True
    assert 0 < priced["cost_low"] < priced["cost"] < priced["cost_high"]
    # The estimate is the bundle's own, from the account's row, and predicted with as a quote.
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    assert bundle.price is not None
    state = client.app.state.current  # type: ignore[attr-defined]
    row = state.online.rows([accounts[1]], CAMPAIGN)
    expected, low, high = (float(v[0]) for v in bundle.price.estimate(row))
    assert (priced["cost"], priced["cost_low"], priced["cost_high"]) == (expected, low, high)
    clicks = priced["outcomes"]["clicks"]["expected"]
    assert priced["cost_per_action"]["clicks"] == pytest.approx(expected / clicks)
    revenue = priced["outcomes"]["revenue"]["expected"]
    assert priced["roi"] == pytest.approx((revenue - expected) / expected)
    # The log keeps the request as sent (no cost) and the answer with the cost used.
    with sqlite3.connect(workdir / "decisions.db") as db:
        logged, outputs = db.execute(
            "SELECT candidates, outputs FROM decisions WHERE request_id = ?",
            (r.json()["request_id"],),
        ).fetchone()
    assert json.loads(logged)[1]["cost"] is None
    recorded = json.loads(outputs)["scores"][1]
    assert (recorded["cost"], recorded["cost_estimated"]) == (expected, True)


def test_rank_spends_estimated_costs_like_quoted_ones(
    client: TestClient, accounts: list[str]
) -> None:
    unquoted = [{"account_id": a} for a in accounts[:6]]
    first = client.post("/predict", json={"campaign": CAMPAIGN, "candidates": unquoted}).json()[
        "scores"
    ]
    estimates = [s["cost"] for s in first]
    budget = round(sum(estimates) / 2, 2)
    body = {"campaign": CAMPAIGN, "budget": budget, "objective": "clicks"}
    priced = client.post("/rank", json={**body, "candidates": unquoted}).json()
    quoted = [{"account_id": a, "cost": c} for a, c in zip(accounts[:6], estimates, strict=True)]
    as_quotes = client.post("/rank", json={**body, "candidates": quoted}).json()
    # The same portfolios as with the estimates quoted: the budget rules cannot tell them apart.
    for key in ("portfolio", "follower_rule"):
        assert priced[key] == as_quotes[key]
    assert 0 < priced["portfolio"]["cost"] <= budget
    assert priced["chosen"]
    assert all(c["cost_estimated"] and c["cost_low"] < c["cost"] for c in priced["chosen"])
    assert not any(c["cost_estimated"] for c in as_quotes["chosen"])


def test_a_model_without_a_price_model_refuses_unquoted_candidates(
    trained: Path, tmp_path: Path, accounts: list[str]
) -> None:
    # A bundle trained before there was a price model: it loads, serves quoted candidates,
    # and says why it cannot score the others.
    bundle, _ = load_bundle(trained / "models" / "champion.json")
    folder = write_bundle(replace(bundle, price=None), tmp_path / "old")
    uri = str(folder / FOLDER_MANIFEST)
    with TestClient(create_app(settings_for(trained, tmp_path, model_uri=uri))) as c:
        candidates = [{"account_id": accounts[0]}, {"account_id": accounts[1], "cost": 90.0}]
        r = c.post("/rank", json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 100})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["errors"] == [
        {
            "index": 0,
            "account_id": accounts[0],
            "error": "no cost given, and this model was trained before there was a price "
            "model, so it cannot estimate one; send the quoted `cost`, or serve a model "
            "trained since",
        }
    ]
    assert out["portfolio"]["indices"] in ([], [1])
