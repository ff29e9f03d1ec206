"""The analyst's pages in a real browser: Debian's Chromium, driven by Playwright, against a
real `influence serve` (uvicorn) on the session's trained workspace.

One server and one headless Chromium serve the whole module; each test opens its pages in a
fresh browser context. Every request of a context goes through one route: those to 127.0.0.1
go on, any other is aborted and recorded, so that a page that would fetch a script, a font or
an image from the internet fails its test, naming the address. Console errors and uncaught
page errors fail it too. Each page's full-page screenshot is saved under
`artifacts/screenshots/` (gitignored), to look at when a test fails.

Chromium is the system's (`/usr/bin/chromium`, or `INFLUENCE_TEST_CHROMIUM`), never a build
that Playwright downloads (`playwright install` is never run). Without Playwright or Chromium
the tests skip and say why (under `CI=true` they fail); `.ci/run` installs Chromium
(`.ci/chromium.sh`). The page helpers are tests/e2e/browser.py's, which
`benchmarks/screenshots.py` uses too for the README's screenshots; the `browser` fixture is
tests/e2e/conftest.py's.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlsplit

import pytest
from typer.testing import CliRunner

from serving.cli import app
from tests.e2e.browser import (
    Served,
    flagged,
    get_json,
    plan_campaign,
    post_json,
    screenshot,
    section,
    shortlist_of,
    watched,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Slow by its folder already; `model` too, since the workspace is asked for at run time
# (see `served`), where conftest's marking cannot see it.
pytestmark = [pytest.mark.slow, pytest.mark.model]


class RunningServer(Protocol):
    """The `running_server` fixture."""

    def __call__(
        self, decision_log: str | Path, env: dict[str, str] | None = None
    ) -> AbstractContextManager[tuple[str, subprocess.Popen[str]]]: ...


@pytest.fixture(scope="module")
def served(
    browser: Browser, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`influence serve` on the trained workspace, on a free port, once for the module.

    The workspace and the server are asked for only once the browser is there: named as
    arguments, the session's `trained` would be built first (pytest sets up wider scopes
    first), training for seconds before a missing browser skips."""
    trained: Path = request.getfixturevalue("trained")
    running_server: RunningServer = request.getfixturevalue("running_server")
    with running_server(tmp_path_factory.mktemp("browser") / "decisions.db") as (base, _):
        yield Served(base, trained / "world", trained / "models" / "champion.json")


def test_a_request_to_anywhere_but_127_0_0_1_is_aborted_and_named(browser: Browser) -> None:
    # `localhost` is not 127.0.0.1 by name, so it stands in for the internet here: were the
    # route to let it through, it would still stay on this machine.
    with (
        watched(browser, "http://127.0.0.1:9") as (page, watch),
        page.expect_event("requestfailed"),
    ):
        page.set_content('<img src="http://localhost:9/logo.png" alt="logo">')
    assert watch.problems == [
        "console error at http://localhost:9/logo.png: Failed to load resource: "
        "net::ERR_BLOCKED_BY_CLIENT.Inspector",
        "request left 127.0.0.1 (aborted): http://localhost:9/logo.png",
    ]


def test_the_home_page_leads_to_an_account_the_model_and_the_api(
    browser: Browser, served: Served
) -> None:
    with watched(browser, served.base) as (page, watch):
        response = page.goto("/")
        assert response is not None
        assert (response.status, urlsplit(page.url).path) == (200, "/app/")
        assert page.get_by_role("heading", name="Vet an account").is_visible()
        assert page.get_by_role("link", name="The model").get_attribute("href") == "/app/model"
        assert page.get_by_role("link", name="The API").get_attribute("href") == "/docs"
        screenshot(page, "home")
        # The form, as an analyst uses it: the example id filled in, one click to its page.
        account = page.get_by_label("Account id").input_value()
        page.get_by_role("button", name="Show its profile").click()
        page.wait_for_url(f"**/app/accounts/{quote(account, safe='')}")
        assert page.get_by_role("heading", name=account, exact=True).is_visible()
    assert watch.problems == []


def test_the_model_page_says_what_the_model_bought_against_the_follower_count(
    browser: Browser, served: Served
) -> None:
    version = get_json(f"{served.base}/health")["model_version"]
    with watched(browser, served.base) as (page, watch):
        response = page.goto("/app/model")
        assert response is not None
        assert response.status == 200
        assert page.get_by_role("heading", name=f"Model version {version}").is_visible()
        bought = section(page, "What it bought, against the follower count")
        for target in ("clicks", "referrals", "conversions", "revenue"):
            assert bought.get_by_role("cell", name=target, exact=True).count() == 1
        screenshot(page, "model")
    assert watch.problems == []


def test_an_account_page_shows_its_flags_and_its_charts(browser: Browser, served: Served) -> None:
    account, profile = flagged(served)
    with watched(browser, served.base) as (page, watch):
        response = page.goto(f"/app/accounts/{quote(account, safe='')}")
        assert response is not None
        assert response.status == 200
        assert page.get_by_role("heading", name=account, exact=True).is_visible()
        flags = section(page, "What to look at").get_by_role("listitem")
        assert flags.all_inner_texts() == [f"{f[0].upper()}{f[1:]}." for f in profile["flags"]]
        for chart in ("Followers per week", f"Engagement against {profile['tier']} accounts"):
            svg = section(page, chart).locator("svg")
            assert svg.count() == 1, chart
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 400, (chart, box)  # drawn, not an empty element
            assert svg.locator("path").count() > 10, chart  # axes, ticks and the lines
        placements = section(page, "Past placements")
        for placement in profile["placements"]:
            assert placements.get_by_role("cell", name=placement["campaign_id"]).count() >= 1
        screenshot(page, "account")
    assert watch.problems == []


def test_an_unknown_account_s_page_is_a_404_page_saying_so(
    browser: Browser, served: Served
) -> None:
    with watched(browser, served.base) as (page, watch):
        response = page.goto("/app/accounts/nobody")
        assert response is not None
        assert response.status == 404
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert page.get_by_text("No account 'nobody' in the served data").is_visible()
        screenshot(page, "not_found")
    # Chromium reports the page's own 404 on the console; nothing else may go wrong.
    assert watch.problems == [
        f"console error at {response.url}: Failed to load resource: "
        "the server responded with a status of 404 (Not Found)"
    ]


def test_swagger_ui_renders_every_operation_offline(browser: Browser, served: Served) -> None:
    spec = get_json(f"{served.base}/openapi.json")
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    with watched(browser, served.base) as (page, watch):
        page.goto("/docs")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        shown = {
            (
                block.locator(".opblock-summary-method").inner_text(),
                block.locator(".opblock-summary-path").get_attribute("data-path"),
            )
            for block in page.locator(".opblock-summary").all()
        }
        screenshot(page, "docs")
    assert shown == operations
    assert watch.problems == []


def test_redoc_renders_every_operation_offline(browser: Browser, served: Served) -> None:
    spec = get_json(f"{served.base}/openapi.json")
    summaries = [op["summary"] for item in spec["paths"].values() for op in item.values()]
    with watched(browser, served.base) as (page, watch):
        page.goto("/redoc")
        # ReDoc draws every operation at once, each under a heading of its summary.
        page.locator("h2", has_text=summaries[-1]).wait_for(timeout=20_000)
        headings = {h.strip() for h in page.locator("h2").all_inner_texts()}
        screenshot(page, "redoc")
    assert set(summaries) <= headings
    assert watch.problems == []


def test_the_planner_turns_a_shortlist_csv_into_the_portfolio_rank_chooses(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    with watched(browser, served.base) as (page, watch):
        page.goto("/app/")
        if page.locator("#shortlist").count() == 0:
            pytest.skip(
                "the campaign planner is not on /app/ yet (no #shortlist file input: "
                "issue 16, item 1); this test runs once it is"
            )
        brief, candidates, budget = shortlist_of(served, tmp_path / "shortlist.csv")
        downloaded = plan_campaign(
            page,
            tmp_path / "shortlist.csv",
            **brief,
            budget=budget,
            objective="clicks",
            download_to=tmp_path / "portfolio.csv",
        )
        screenshot(page, "planner")
    # What `influence rank` writes for the same inputs, to the byte.
    out = tmp_path / "rank.csv"
    argv = ["rank", str(served.world), "--brand", brief["brand"], "--topic", brief["topic"]]
    argv += ["--budget", f"{budget:.2f}", "--objective", "clicks"]
    argv += ["--shortlist", str(tmp_path / "shortlist.csv"), "--out", str(out)]
    done = CliRunner().invoke(app, [*argv, "--model", str(served.model)])
    assert done.exit_code == 0, done.output
    assert downloaded.read_bytes() == out.read_bytes()
    with downloaded.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["chosen_by_model"] == "true"]
    ranked = post_json(
        f"{served.base}/rank",
        {"campaign": brief, "candidates": candidates, "budget": budget, "objective": "clicks"},
    )
    assert ranked["portfolio"]["account_ids"], "the budget buys no one: the check says nothing"
    assert sorted(r["account_id"] for r in rows) == sorted(ranked["portfolio"]["account_ids"])
    assert watch.problems == []
