"""The analyst's pages (serving/pages.py) through a real TestClient on the trained workspace."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

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
    settings = serving_trained(tmp_path_factory.mktemp("pages"))
    with TestClient(create_app(settings)) as c:
        yield c


def _external(html: str) -> list[str]:
    """Every address in the page that is not the app's own."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(([^)]+)\)""", html)
    urls = [a or b for a, b in found]
    return [u for u in urls if re.match(r"^[a-z]+:", u) and not u.startswith("data:")]


def test_an_account_page_shows_its_flags_charts_and_placements(
    client: TestClient, trained: Path
) -> None:
    data = load_dataset(trained / "world")
    # The account the profile flags most: the page leads with those sentences.
    ids = data.placements["account_id"].drop_duplicates().head(40)
    profiles = {a: client.get(f"/accounts/{a}").json() for a in ids}
    account = max(profiles, key=lambda a: len(profiles[a]["flags"]))
    page = client.get(f"/app/accounts/{account}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"<h1>{account}</h1>" in html
    for flag in profiles[account]["flags"]:
        assert f"{flag[0].upper()}{flag[1:]}." in html.replace("&#39;", "'")
    assert html.count("<svg") == 2  # followers, engagement against the tier
    for placement in profiles[account]["placements"]:
        assert f"<td>{placement['campaign_id']}</td>" in html
    assert _external(html) == []  # nothing from the network: works offline


def test_an_unknown_account_s_page_is_a_404_page_saying_what_to_do(client: TestClient) -> None:
    page = client.get("/app/accounts/nobody")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No account &#39;nobody&#39; in the served data" in page.text


def test_pages_are_behind_the_key_when_one_is_set(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    settings = serving_trained(tmp_path, api_key="s3cret-key")
    with TestClient(create_app(settings)) as c:
        assert c.get("/app/accounts/nobody").status_code == 401
        assert c.get("/app/accounts/nobody", headers={"X-API-Key": "s3cret-key"}).status_code == 404


def test_the_service_opens_on_its_home_page(client: TestClient) -> None:
    first = client.get("/", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (307, "/app/")
    home = client.get("/")
    assert home.status_code == 200
    assert '<form action="/app/accounts" method="get">' in home.text
    assert _external(home.text) == []
    account = re.search(r'name="account_id" required value="([^"]+)"', home.text)
    assert account is not None
    found = client.get("/app/accounts", params={"account_id": f" {account.group(1)} "})
    assert found.url.path == f"/app/accounts/{account.group(1)}"
    assert found.status_code == 200


def test_the_model_page_says_what_it_bought_against_the_follower_count(
    client: TestClient, trained: Path
) -> None:
    page = client.get("/app/model")
    assert page.status_code == 200
    info = client.get("/model").json()
    html = page.text
    assert f"<h1>Model version {info['version']}</h1>" in html
    for target in info["targets"]:
        low_high = info["metrics"][target]["ratio_vs_followers"]
        assert (
            f"Choosing by the model bought {low_high[0]:.3g} times the {target} per unit cost of "
            f"the followers baseline (95% interval {low_high[1]:.3g} to {low_high[2]:.3g})."
        ) in html
    assert f"off by {info['price']['price/mdape']:.0%} (median)" in html
    assert "<b>relevance</b>: how close the account" in html
    assert _external(html) == []
