"""`serving.sources`: a service started from the champion's snapshot answers every route as the
same service started from the raw data directory, to the bit; a snapshot of another model's
feature state is refused with the reason, at start-up and on reload."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.snapshot import MANIFEST
from serving.app import create_app
from serving.errors import NotReadyError
from serving.settings import ServingSettings
from serving.sources import source_of
from training.workspace import snapshot_folder

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture
CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon training"}
HISTORY = [
    {
        "posted_at": f"2025-06-{d:02d}T12:00:00",
        "followers": 5000 + d,
        "likes": 300 - d,
        "comments": 20,
        "shares": 9,
        "views": 4000,
        "text": "marathon training running shoes",
        "sponsored": d == 4,
    }
    for d in range(1, 11)
]


@pytest.fixture(scope="module")
def pair(
    serving_trained: ServingTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, TestClient]]:
    """The trained workspace served from its data directory, and from its champion's
    snapshot (no data directory named: the default), each with its own decision log."""
    raw = serving_trained(tmp_path_factory.mktemp("raw"))
    snap = serving_trained(tmp_path_factory.mktemp("snap"), data_dir=None)
    with TestClient(create_app(raw)) as r, TestClient(create_app(snap)) as s:
        yield r, s


def _same(pair: tuple[TestClient, TestClient], method: str, path: str, **kw: Any) -> Any:
    """Ask both; assert the same status and body (but the request's own id); return it."""
    answers = [client.request(method, path, **kw) for client in pair]
    assert answers[0].status_code == answers[1].status_code == 200, answers[1].text
    if answers[0].headers["content-type"].startswith("application/json"):
        bodies = [a.json() for a in answers]
        for body in bodies:
            if isinstance(body, dict):
                body.pop("request_id", None)
        assert bodies[0] == bodies[1], path
        return bodies[0]
    assert answers[0].text == answers[1].text, path
    return answers[0].text


def test_the_snapshot_is_the_default_and_says_where_it_came_from(
    pair: tuple[TestClient, TestClient], trained: Path
) -> None:
    raw, snap = (c.app.state.current for c in pair)  # type: ignore[attr-defined]
    assert raw.snapshot is None
    assert snap.snapshot == snapshot_folder(trained / "models", "1")
    assert snap.as_of == raw.as_of
    assert snap.data_check == raw.data_check
    assert snap.data_check.matches is True
    health = _same(pair, "GET", "/health")
    assert health["status"] == "ok"
    _same(pair, "GET", "/model")


def test_predict_rank_and_discover_answer_the_same(
    pair: tuple[TestClient, TestClient], known_accounts: list[str]
) -> None:
    raw = pair[0].app.state.current  # type: ignore[attr-defined]
    past = (raw.as_of - pd.Timedelta(days=40)).isoformat()
    candidates: list[dict[str, Any]] = [
        {"account_id": a, "cost": 80.0 + 7 * i} for i, a in enumerate(known_accounts[:12])
    ]
    candidates += [
        {"account_id": known_accounts[0], "cost": 90.0, "posted_at": past},  # the full path
        {"account_id": known_accounts[1]},  # its price estimated
        {"account_id": "fresh", "cost": 60.0, "history": HISTORY},
        {"account_id": "nobody", "cost": 10.0},
    ]
    body = {"campaign": CAMPAIGN, "candidates": candidates}
    scored = _same(pair, "POST", "/predict", json=body)
    assert len(scored["scores"]) == len(candidates) - 1
    assert [e["account_id"] for e in scored["errors"]] == ["nobody"]
    for objective in ("clicks", "revenue", "roi"):
        ranked = {**body, "budget": 600.0, "objective": objective, "explain": 3}
        _same(pair, "POST", "/rank", json=ranked)
    found = _same(pair, "POST", "/discover", json={"campaign": CAMPAIGN, "budget": 3000.0})
    assert found["chosen"]
    _same(
        pair,
        "POST",
        "/discover",
        json={"campaign": CAMPAIGN, "budget": 900.0, "min_followers": 2000, "max_followers": 40000},
    )


def test_profiles_and_pages_are_the_same(
    pair: tuple[TestClient, TestClient], known_accounts: list[str]
) -> None:
    raw = pair[0].app.state.current  # type: ignore[attr-defined]
    without_placement = next(a for a in raw.post_counts if a not in set(known_accounts))
    for account in [*known_accounts[:8], without_placement]:
        profile = _same(pair, "GET", f"/accounts/{account}")
        assert profile["account_id"] == account
        _same(pair, "GET", f"/app/accounts/{account}")
    for page in ("/app/", "/app/model"):
        _same(pair, "GET", page)
    spec = [c.get("/openapi.json").json() for c in pair]
    assert spec[0] == spec[1]  # the examples name the same served accounts and campaign


def test_another_model_s_snapshot_is_refused_at_start_and_on_reload(
    serving_trained: ServingTrained, trained: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.snapshot"
    shutil.copytree(snapshot_folder(trained / "models", "1"), other)
    manifest = other / MANIFEST
    manifest.write_text(manifest.read_text().replace('"state_digest": "', '"state_digest": "0'))
    settings = serving_trained(tmp_path, data_dir=None, snapshot_dir=other)
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        reason = health.json()["reason"]
        assert reason.startswith(
            f"the snapshot cannot be served: {other} was materialized with another fitted "
            "feature state (digest 0"
        )
        assert reason.endswith("materialize it again with this model.")
    good = serving_trained(tmp_path, data_dir=None)
    with TestClient(create_app(good)) as client:
        assert client.get("/health").json()["status"] == "ok"
        good.snapshot_dir = other  # the operator points the service at the wrong snapshot
        refused = client.post("/admin/reload")
        assert refused.status_code == 503
        assert refused.json()["detail"].startswith(
            "Reload failed, still serving the previous model: the snapshot cannot be served: "
        )
        assert client.get("/health").json()["status"] == "ok"


def test_with_neither_data_nor_snapshot_the_service_says_how_to_name_one(
    serving_trained: ServingTrained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUENCE_MODELS_DIR", str(tmp_path / "empty"))
    settings = serving_trained(tmp_path, data_dir=None)
    with pytest.raises(NotReadyError, match="no data") as refused:
        source_of(settings, "7")
    own = tmp_path / "empty" / "influence-v7.snapshot"
    assert str(refused.value) == (
        "no data: set INFLUENCE_DATA_DIR (or --data) to the folder of account histories, or "
        "INFLUENCE_SNAPSHOT_DIR (or --snapshot) to a snapshot; model version 7 has none at "
        f"{own} (influence materialize DATA_DIR --out {own} writes one)"
    )
    named = serving_trained(tmp_path, snapshot_dir=tmp_path / "s")
    assert source_of(named, "7") == ("snapshot", tmp_path / "s")  # a snapshot named wins
