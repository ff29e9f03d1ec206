"""What the app builds around the use cases, each on its own app: the request limits, the
API key, a missing or tampered model or no data (503 with the reason), every answer in the
decision log, and the loaded state kept out of the garbage collector.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.decisions import DecisionLog
from serving.settings import ServingSettings

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture


def test_too_many_candidates_and_oversized_bodies(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    settings = serving_trained(tmp_path, max_candidates=2, max_body_bytes=2048)
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
    serving_trained: ServingTrained, tmp_path: Path, known_accounts: list[str]
) -> None:
    settings = serving_trained(tmp_path, api_key="s3cret")
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


def test_no_model_or_tampered_model_is_503_with_reason(
    trained: Path, serving_trained: ServingTrained, tmp_path: Path
) -> None:
    with TestClient(
        create_app(serving_trained(tmp_path, model_uri=str(tmp_path / "none.json")))
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
        create_app(serving_trained(tmp_path, model_uri=str(models / "champion.json")))
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
        create_app(serving_trained(tmp_path, model_uri=str(models / "probe.json")))
    ) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert r.json()["reason"] == (
            f"no model: The model manifest {models / 'probe.json'} is refused: its entry "
            f"'../outside.txt' goes up a folder with '..'; a manifest may name only files "
            f"inside its own folder ({models})."
        )
    # No data directory, no snapshot named, and none beside the model in the workspace's models.
    elsewhere = serving_trained(tmp_path, data_dir=None, home=tmp_path / "elsewhere")
    with TestClient(create_app(elsewhere)) as c:
        assert c.get("/health").json()["reason"].startswith("no data: set INFLUENCE_DATA_DIR")


def test_every_answer_is_in_the_decision_log(
    serving_trained: ServingTrained, tmp_path: Path, known_accounts: list[str]
) -> None:
    settings = serving_trained(tmp_path)
    with TestClient(create_app(settings)) as c:
        ids = []
        for a in known_accounts[:5]:
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
                    "candidates": [{"account_id": known_accounts[0], "cost": 50}],
                    "budget": 100,
                },
            ).json()["request_id"]
        )
        c.post("/predict", json={"campaign": CAMPAIGN, "candidates": []})  # refused: not a decision
    log = DecisionLog(settings.decision_log)
    assert log.count() == 6
    assert len(set(ids)) == 6


def test_loaded_state_is_kept_out_of_the_collector_and_freed_on_reload(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    import gc
    import weakref

    app = create_app(serving_trained(tmp_path))
    with TestClient(app) as c:
        # Frozen: full collections during requests do not walk the loaded state.
        assert gc.get_freeze_count() > 100_000
        old = weakref.ref(app.state.current)
        assert c.post("/admin/reload").status_code == 200
        assert app.state.current is not old()
        assert old() is None  # the previous state was freed, not kept by the freeze
