"""GET /accounts/{account_id} through a real TestClient on the session's trained workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture


@pytest.fixture(scope="module")
def client(
    serving_trained: ServingTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = serving_trained(tmp_path_factory.mktemp("accounts"))
    with TestClient(create_app(settings)) as c:
        yield c


def test_a_known_account_s_profile_is_its_history_read_against_its_tier(
    client: TestClient, trained: Path
) -> None:
    data = load_dataset(trained / "world")
    account = str(data.placements["account_id"].value_counts().index[0])
    answer = client.get(f"/accounts/{account}")
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    posts = data.posts[data.posts["account_id"] == account].sort_values("posted_at")
    assert profile["account_id"] == account
    assert profile["posts"] == len(posts)
    assert profile["followers"] == int(posts["followers"].iloc[-1])
    assert profile["followers_weekly"][-1]["followers"] == profile["followers"]
    weeks = [pd.Timestamp(p["week"]) for p in profile["followers_weekly"]]
    assert all(w.tzname() == "UTC" and w.dayofweek == 0 and w == w.normalize() for w in weeks)
    placed = data.placements[data.placements["account_id"] == account]
    assert sorted(p["placement_id"] for p in profile["placements"]) == sorted(
        placed["placement_id"]
    )
    assert {"comments_per_like", "shares_per_like", "engagement_rate"} <= set(profile["ratios"])
    assert profile["tier_ratios"] is not None
    assert all(isinstance(f, str) for f in profile["flags"])
    assert pd.Timestamp(profile["as_of"]) == pd.Timestamp(client.get("/model").json()["data_as_of"])


def test_the_track_record_is_its_closed_placements_shrunk_toward_the_average(
    client: TestClient, trained: Path
) -> None:
    data = load_dataset(trained / "world")
    account = str(data.placements["account_id"].value_counts().index[0])
    record = client.get(f"/accounts/{account}").json()["track_record"]
    as_of = pd.Timestamp(client.get("/model").json()["data_as_of"])
    placed = data.placements[data.placements["account_id"] == account]
    # The builder's defaults: a 30-day attribution window, 3 placements of prior.
    closed = placed[placed["posted_at"] + pd.Timedelta(days=30) <= as_of]
    assert record["placements_known"] == len(closed) > 0
    assert record["placements_pending"] == len(placed) - len(closed)
    assert record["prior_strength"] == 3.0
    assert [r["outcome"] for r in record["rates"]] == [
        "clicks",
        "referrals",
        "conversions",
        "revenue",
    ]
    for rate in record["rates"]:
        done = closed.dropna(subset=[rate["outcome"]])
        raw = done[rate["outcome"]].sum() / done["cost"].sum()
        n = len(done)
        assert rate["per_cost"] == pytest.approx((n * raw + 3.0 * rate["average"]) / (n + 3.0))
        assert rate["times_average"] == pytest.approx(rate["per_cost"] / rate["average"])
    first, pending = record["rates"][0], record["placements_pending"]
    waiting = (
        f" {pending} more {'is' if pending == 1 else 'are'} still within the 30-day "
        "attribution window, not counted yet."
        if pending
        else ""
    )
    assert record["summary"] == (
        f"From its {len(closed)} closed placement{'s' if len(closed) != 1 else ''}, the model "
        f"estimates {first['per_cost']:.3g} clicks per unit cost: {first['times_average']:.2g} "
        "times the pooled rate of every placement it learned from (the estimate counts 3 "
        f"placements at the pooled rate besides its own, so that one lucky post does not make a "
        f"star).{waiting}"
    )
    page = client.get(f"/app/accounts/{account}").text
    assert record["summary"].replace("'", "&#39;") in page

    never = sorted(set(data.posts["account_id"]) - set(data.placements["account_id"]))[0]
    record = client.get(f"/accounts/{never}").json()["track_record"]
    assert (record["placements_known"], record["placements_pending"]) == (0, 0)
    assert [r["per_cost"] for r in record["rates"]] == pytest.approx(
        [r["average"] for r in record["rates"]]
    )
    assert record["summary"] == (
        "No earlier placement whose 30-day attribution window has closed, so the model reads "
        "its track record as the pooled rate of every placement it learned from."
    )


def test_an_unknown_account_is_404_with_what_to_do(client: TestClient) -> None:
    answer = client.get("/accounts/nobody")
    assert answer.status_code == 404
    accounts = client.get("/model").json()["accounts"]
    assert answer.json() == {
        "detail": f"No account 'nobody' in the served data ({accounts:,} accounts); check the "
        "id, or score it with its history in POST /predict."
    }


def test_the_route_is_documented_with_its_refusals(client: TestClient) -> None:
    route = client.get("/openapi.json").json()["paths"]["/accounts/{account_id}"]["get"]
    assert set(route["responses"]) == {"200", "401", "404", "422", "503"}
