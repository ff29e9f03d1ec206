"""Edges of the service: chunked bodies over the limit, data the model can barely use."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings


def settings(root: Path, tmp: Path, data: Path | None = None, **extra: object) -> ServingSettings:
    return ServingSettings(
        data_dir=data or root / "world",
        model_uri=str(root / "models" / "champion.json"),
        decision_log=str(tmp / "decisions.db"),
        **extra,  # type: ignore[arg-type]
    )


def test_a_chunked_body_over_the_limit_is_413(trained: Path, tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"campaign": {"brand": "b", "topic": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}, "candidates": [{"account_id": "a", "cost": 1}]}'

    with TestClient(create_app(settings(trained, tmp_path, max_body_bytes=2048))) as c:
        r = c.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"].startswith("The request body is larger than the limit of 2048")


def test_histories_without_captions_still_serve(trained: Path, tmp_path: Path) -> None:
    data = tmp_path / "world"
    shutil.copytree(trained / "world", data)
    posts = pd.read_parquet(data / "posts.parquet").drop(columns=["text"])
    posts.to_parquet(data / "posts.parquet")
    with TestClient(create_app(settings(trained, tmp_path, data=data))) as c:
        assert c.get("/health").status_code == 200
        account = str(posts["account_id"].iloc[0])
        r = c.post(
            "/predict",
            json={
                "campaign": {"brand": "b", "topic": "t"},
                "candidates": [{"account_id": account, "cost": 10}],
            },
        )
    assert r.status_code == 200
    assert r.json()["scores"][0]["outcomes"]["clicks"]["expected"] > 0


CAMPAIGN = {"brand": "northpeak", "topic": "running shoes"}


def test_an_account_sent_twice_is_described_by_one_history(trained: Path, tmp_path: Path) -> None:
    short = [
        {
            "posted_at": f"2025-06-0{d}T10:00:00",
            "followers": 900,
            "likes": 40,
            "comments": 2,
            "shares": 1,
        }
        for d in range(1, 6)
    ]
    longer = [*short, dict(short[0], posted_at="2025-06-08T10:00:00", likes=400)]
    with TestClient(create_app(settings(trained, tmp_path))) as c:
        alone = c.post(
            "/predict",
            json={
                "campaign": CAMPAIGN,
                "candidates": [{"account_id": "new", "cost": 50, "history": short}],
            },
        ).json()
        both = c.post(
            "/predict",
            json={
                "campaign": CAMPAIGN,
                "candidates": [
                    {"account_id": "new", "cost": 50, "history": short},
                    {"account_id": "new", "cost": 50, "history": longer},
                ],
            },
        ).json()
    expected = alone["scores"][0]["outcomes"]["clicks"]["expected"]
    assert [s["outcomes"]["clicks"]["expected"] for s in both["scores"]] == [expected, expected]


def test_rank_buys_an_account_once(trained: Path, tmp_path: Path) -> None:
    account = pd.read_parquet(trained / "world" / "placements.parquet")["account_id"].iloc[0]
    body = {
        "campaign": CAMPAIGN,
        "candidates": [{"account_id": account, "cost": 10}] * 3,
        "budget": 100,
    }
    with TestClient(create_app(settings(trained, tmp_path))) as c:
        out = c.post("/rank", json=body).json()
    assert out["portfolio"]["account_ids"] in ([], [account])
    assert out["errors"] == [
        {
            "index": i,
            "account_id": account,
            "error": f"repeats account_id {account!r} of candidates[0]; "
            "a portfolio buys an account once",
        }
        for i in (1, 2)
    ]


def test_no_post_before_the_time_is_an_error_entry_not_a_guess(
    trained: Path, tmp_path: Path
) -> None:
    account = pd.read_parquet(trained / "world" / "placements.parquet")["account_id"].iloc[0]
    body = {
        "campaign": CAMPAIGN,
        "candidates": [{"account_id": account, "cost": 10, "posted_at": "2001-01-01T00:00:00Z"}],
    }
    with TestClient(create_app(settings(trained, tmp_path))) as c:
        out = c.post("/predict", json=body).json()
    assert out["scores"] == []
    assert out["errors"] == [
        {
            "index": 0,
            "account_id": account,
            "error": f"no post of {account!r} in the 180 days before 2001-01-01T00:00:00+00:00; "
            "there is nothing to score it on",
        }
    ]
