"""The analyst's pages (serving/pages.py) through a real TestClient on the trained workspace:
the planner (a multipart shortlist upload, its portfolio, its CSV against `influence rank`'s),
an account's profile, the model."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from features.io import load_dataset
from serving.app import create_app
from serving.cli import app
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture
External = Callable[[str], list[str]]  # the `external_addresses` fixture


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pages")


@pytest.fixture(scope="module")
def client(serving_trained: ServingTrained, logs: Path) -> Iterator[TestClient]:
    with TestClient(create_app(serving_trained(logs))) as c:
        yield c


def test_an_account_page_shows_its_flags_charts_and_placements(
    client: TestClient, trained: Path, external_addresses: External
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
    jumps = len(profiles[account]["jumps"])
    marked = (
        f"{jumps} rise{'s' if jumps != 1 else ''} that likes did not follow marked"
        if jumps
        else "no rise that likes did not follow"
    )
    profile = profiles[account]
    assert re.findall(r'<svg role="img" aria-label="([^"]*)"', html) == [
        f"Followers per week of {account}, {marked}",
        f"Engagement per follower per week of {account} beside the median of "
        f"{profile['tier']} accounts",
    ]
    for placement in profiles[account]["placements"]:
        assert f"<td>{placement['campaign_id']}</td>" in html
    assert external_addresses(html) == []  # nothing from the network: works offline


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


def test_the_service_opens_on_its_home_page(
    client: TestClient, external_addresses: External
) -> None:
    first = client.get("/", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (307, "/app/")
    home = client.get("/")
    assert home.status_code == 200
    assert '<form action="/app/accounts" method="get">' in home.text
    assert external_addresses(home.text) == []
    account = re.search(r'name="account_id" required value="([^"]+)"', home.text)
    assert account is not None
    found = client.get("/app/accounts", params={"account_id": f" {account.group(1)} "})
    assert found.url.path == f"/app/accounts/{account.group(1)}"
    assert found.status_code == 200


def _shortlist(trained: Path) -> bytes:
    """A spreadsheet's shortlist: loose headers, a BOM, a quote with a thousands separator,
    blank costs for the model to estimate, a column of notes."""
    ids = load_dataset(trained / "world").posts["account_id"].drop_duplicates().head(12).tolist()
    rows = [
        f'{a},"{1000 + 25 * i:,}",note' if i % 3 == 0 else f"{a},,note" for i, a in enumerate(ids)
    ]
    return ("\ufeffAccount ID, Cost ,Notes\n" + "\n".join(rows) + "\n").encode()


PLAN = {"brand": "northpeak", "topic": "running shoes marathon", "budget": "2,500"}


def _downloaded(html: str) -> bytes:
    link = re.search(r'id="download-csv"[^>]*href="data:text/csv;base64,([^"]+)"', html)
    assert link is not None
    return base64.b64decode(link.group(1))


def test_the_home_page_is_the_planner_with_stable_fields(client: TestClient) -> None:
    html = client.get("/app/").text
    assert (
        '<form id="planner" action="/app/plan" method="post" enctype="multipart/form-data">' in html
    )
    for name in (
        "brand",
        "topic",
        "budget",
        "objective",
        "shortlist",
        "min_followers",
        "max_followers",
    ):
        assert f'id="{name}" name="{name}"' in html, name
    assert '<input id="shortlist" name="shortlist" type="file"' in html
    assert '<option value="roi">' in html


def test_a_shortlist_upload_gives_the_portfolio_and_the_cli_s_csv(
    client: TestClient, trained: Path, tmp_path: Path, logs: Path, external_addresses: External
) -> None:
    shortlist = _shortlist(trained)
    page = client.post(
        "/app/plan",
        data={**PLAN, "objective": "clicks"},
        files={"shortlist": ("Shortlist.csv", shortlist, "text/csv")},
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="versus"' in html
    assert re.search(r"The model's portfolio buys [\d.,]+ times the clicks of the follow", html)
    table = html[html.index('<table id="portfolio">') :]
    table = table[: table.index("</table>")]
    chosen = re.findall(r'<a href="/app/accounts/([^"]+)">', table)
    assert chosen
    assert table.count("<svg") == len(chosen)  # a bar per family for each chosen account
    assert "estimated" in table
    assert "raises it by" in table or "multiplies it by" in table or "lowers it by" in table
    assert external_addresses(html) == []
    # The download is what `influence rank` writes for the same inputs, byte for byte.
    (tmp_path / "Shortlist.csv").write_bytes(shortlist)
    out = tmp_path / "portfolio.csv"
    argv = ["rank", str(trained / "world"), "--brand", PLAN["brand"], "--topic", PLAN["topic"]]
    argv += ["--budget", "2500", "--shortlist", str(tmp_path / "Shortlist.csv"), "--out", str(out)]
    argv += ["--model", str(trained / "models" / "champion.json")]
    done = CliRunner().invoke(app, argv)
    assert done.exit_code == 0, done.output
    assert _downloaded(html) == out.read_bytes()
    downloaded = pd.read_csv(out)
    assert sorted(downloaded.loc[downloaded["chosen_by_model"], "account_id"]) == sorted(chosen)
    # Logged as /rank's decisions are, with the shortlist as sent.
    engine = create_engine(f"sqlite:///{logs / 'decisions.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT campaign, candidates, outputs FROM decisions WHERE endpoint = 'app/plan'")
        ).all()
    engine.dispose()
    [row] = [r for r in rows if isinstance(json.loads(r.candidates), list)]
    assert json.loads(row.campaign) == {"brand": PLAN["brand"], "topic": PLAN["topic"]}
    assert len(json.loads(row.candidates)) == 12
    assert sorted(json.loads(row.outputs)["portfolio"]["account_ids"]) == sorted(chosen)


def test_a_discovery_from_the_page_prices_every_known_account(client: TestClient) -> None:
    page = client.post(
        "/app/plan", data={**PLAN, "objective": "roi", "min_followers": "1,000"}, files={}
    )
    assert page.status_code == 200, page.text
    rows = pd.read_csv(io.BytesIO(_downloaded(page.text)))
    assert rows["cost_estimated"].all()
    assert rows["followers"].min() >= 1000
    assert "known accounts" in page.text


def test_shortlist_and_form_problems_are_sentences_on_the_page(client: TestClient) -> None:
    bad = b"account_id,cost\nnobody,$120\n"
    page = client.post(
        "/app/plan",
        data={**PLAN, "budget": "lots"},
        files={"shortlist": ("mine.csv", bad, "text/csv")},
    )
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    said = "Give the budget as a number of at least 0.01, such as 5000 (&#39;lots&#39; is not)."
    assert f"<li>{said}</li>" in page.text
    assert 'value="lots"' in page.text  # the form comes back as typed
    page = client.post("/app/plan", data=PLAN, files={"shortlist": ("mine.csv", bad, "text/csv")})
    assert page.status_code == 422
    problems = re.findall(r"<li>(.*?)</li>", page.text.replace("&#39;", "'"))
    assert problems == [
        "mine.csv, column 'account_id': accounts the served data does not hold in 1 row: "
        "'nobody' on line 2.",
        "mine.csv, column 'cost': values that are not a number &gt;= 0 in 1 row: '$120' on line "
        "2; likely currency symbols ($120): export plain numbers (120), one currency per column.",
    ]


def test_an_upload_is_bounded_in_bytes_and_in_rows(
    serving_trained: ServingTrained, tmp_path: Path, trained: Path
) -> None:
    settings = serving_trained(tmp_path, max_candidates=5, max_body_bytes=4096)
    with TestClient(create_app(settings)) as c:
        big = b"account_id\n" + b"x" * 8000 + b"\n"
        page = c.post("/app/plan", data=PLAN, files={"shortlist": ("big.csv", big, "text/csv")})
        assert page.status_code == 413
        assert page.json()["detail"].startswith("The request body is larger than the limit")
        # A browser's form gets the sentence as a page, with the way back.
        browser = {"Accept": "text/html,application/xhtml+xml"}
        page = c.post(
            "/app/plan",
            data=PLAN,
            files={"shortlist": ("big.csv", big, "text/csv")},
            headers=browser,
        )
        assert page.status_code == 413
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert (
            "<p>The request body is larger than the limit of 4096 bytes; send fewer candidates "
            'or shorter histories.</p>\n<p><a href="/app/">Back to the planner</a></p>'
        ).replace("\n", "") in page.text
        page = c.post(
            "/app/plan", data=PLAN, files={"shortlist": ("s.csv", _shortlist(trained), "text/csv")}
        )
        assert page.status_code == 422
        assert (
            "s.csv: has 12 rows; a shortlist may have at most 5 candidates, so split it, or "
            "leave it out to discover among every known account." in page.text
        )
