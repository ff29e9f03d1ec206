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
    # Streamed bodies are counted by FastAPI's own limit, which words it briefly.
    assert r.json()["detail"] == "Content Too Large"


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
