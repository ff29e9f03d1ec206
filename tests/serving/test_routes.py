"""Routes in process: a reload bounded in time, that keeps the previous model serving."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings

PREVIOUS = "Reload failed, still serving the previous model"
TIMED_OUT = f"{PREVIOUS}: loading did not finish within 0.05 seconds"
STILL_LOADING = (
    f"{PREVIOUS}: the last reload, given up after 0.05 seconds, is still loading. "
    "Try again later, or restart the service."
)


def settings(root: Path, tmp: Path, model_uri: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=root / "world",
        model_uri=str(model_uri),
        decision_log=str(tmp / "decisions.db"),
        reload_timeout_seconds=0.05,
    )


def test_a_slow_reload_gives_up_and_the_old_model_serves(trained: Path, tmp_path: Path) -> None:
    manifest = trained / "models" / "champion.json"
    version = json.loads(manifest.read_text())["version"]
    with TestClient(create_app(settings(trained, tmp_path, manifest))) as c:
        started = time.monotonic()
        first = c.post("/admin/reload")
        assert first.status_code == 503
        assert first.json()["detail"].startswith(TIMED_OUT)
        assert c.get("/health").json() == {"status": "ok", "model_version": version, "reason": None}
        # The given-up load goes on in its thread: the next reload is refused at once
        # rather than started beside it.
        second = c.post("/admin/reload")
        assert (second.status_code, second.json()["detail"]) == (503, STILL_LOADING)
        assert time.monotonic() - started < 5
        # Once the abandoned load ends, a reload loads again (and, this fast, gives up again).
        deadline = time.monotonic() + 30
        while (detail := c.post("/admin/reload").json()["detail"]) == STILL_LOADING:
            assert time.monotonic() < deadline, "the abandoned load never ended"
            time.sleep(0.2)
        assert detail.startswith(TIMED_OUT)
        assert c.get("/health").json()["model_version"] == version


def test_a_manifest_that_is_a_fifo_is_a_reason_not_a_hang(trained: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained / "models", models)
    with TestClient(create_app(settings(trained, tmp_path, models / "champion.json"))) as c:
        (models / "champion.json").unlink()
        os.mkfifo(models / "champion.json")
        started = time.monotonic()
        r = c.post("/admin/reload")
        assert time.monotonic() - started < 5
        assert (r.status_code, r.json()["detail"]) == (
            503,
            f"{PREVIOUS}: no model: The model manifest {models / 'champion.json'} is a FIFO, "
            "not a regular file.",
        )
        assert c.get("/health").status_code == 200
