"""The moment the service stands at is the data's latest observation, never a plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.settings import ServingSettings

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}


def _settings(trained: Path, world: Path, tmp: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=world,
        model_uri=str(trained / "models" / "champion.json"),
        decision_log=str(tmp / "decisions.db"),
    )


def _add_rows(world: Path, name: str, rows: list[dict[str, object]]) -> None:
    path = world / f"{name}.parquet"
    frame = pd.read_parquet(path)
    extra = pd.DataFrame(rows).astype({c: frame[c].dtype for c in rows[0]})
    pd.concat([frame, extra], ignore_index=True).to_parquet(path, index=False)


def test_a_planned_placement_and_a_future_post_do_not_move_the_data_moment(
    trained: Path, tmp_path: Path
) -> None:
    world = tmp_path / "world"
    shutil.copytree(trained / "world", world)
    data = load_dataset(world)
    end = max(data.posts["posted_at"].max(), data.placements["posted_at"].max())
    expected = (end + pd.Timedelta(seconds=1)).isoformat()
    known = [str(a) for a in data.placements["account_id"].drop_duplicates().head(3)]
    ahead = pd.Timestamp.now(tz="UTC").normalize() + pd.Timedelta(days=120)
    # A plan months ahead: no outcomes yet.
    _add_rows(
        world,
        "placements",
        [
            {
                "placement_id": "planned-1",
                "campaign_id": str(data.campaigns["campaign_id"].iloc[-1]),
                "account_id": known[0],
                "posted_at": ahead,
                "cost": 100.0,
            }
        ],
    )
    # A post dated in the future (a clock error in an export).
    post = data.posts.iloc[0].to_dict()
    _add_rows(world, "posts", [{**post, "post_id": "from-the-future", "posted_at": ahead}])

    with TestClient(create_app(_settings(trained, world, tmp_path))) as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/model").json()["data_as_of"] == expected
        body = {
            "campaign": CAMPAIGN,
            "candidates": [{"account_id": a, "cost": 100.0} for a in known],
        }
        answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    assert [s["index"] for s in answer.json()["scores"]] == [0, 1, 2]
    assert answer.json()["errors"] == []
