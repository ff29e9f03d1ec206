"""Signing in with a real browser: Debian's Chromium, driven by Playwright, against a real
`influence serve` with `INFLUENCE_API_KEY` set, on the session's trained workspace.

What only a browser can show: that Chromium's own requests from the pages (the sign-in, the
planner's multipart form, the header's "Sign out" button) pass the same-origin check of
`serving.middleware.ApiKeyGate`, and that a page on another port of 127.0.0.1, which is the
same site, so whose form posts do carry the cookie, is refused. The page helpers (nothing
may leave 127.0.0.1, no console error) are tests/e2e/browser.py's, and the `browser` fixture
(skipped where there is no Chromium, failed under CI=true) tests/e2e/conftest.py's, as for
tests/e2e/test_browser.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import watched

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = [pytest.mark.slow, pytest.mark.model]

KEY = "clé du navigateur"
ELSEWHERE = (
    "Refused: a signed-in browser may change things only from this service's own pages, "
    "and this request came from another page or did not say where from."
)
EVIL = "http://127.0.0.1:9/"
"""Another port of the service's host: the same site, another origin (Playwright answers
for it; nothing listens there)."""


@pytest.fixture(scope="module")
def keyed(
    browser: Browser, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Browser, str]]:
    """The browser and one server with a key set, for the module; the server (and the
    session's trained workspace) asked for only once the browser is there, as
    test_browser.py's `served` does."""
    running_server: Any = request.getfixturevalue("running_server")
    log = tmp_path_factory.mktemp("sign_in") / "decisions.db"
    with running_server(log, {"INFLUENCE_API_KEY": KEY}) as (base, _):
        yield browser, base


def sign_in(page: Page) -> None:
    """Open the planner, get sent to sign in, type the key, land on the planner."""
    page.goto("/app/")
    page.wait_for_url("**/app/login?next=/app/")
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/")


def test_a_signed_in_analyst_plans_a_campaign_and_signs_out(keyed: tuple[Browser, str]) -> None:
    browser, base = keyed
    with watched(browser, base) as (page, watch):
        sign_in(page)
        page.fill("#brand", "northpeak")
        page.fill("#topic", "running shoes")
        page.fill("#budget", "2500")
        page.locator("#planner [type=submit]").click()
        page.wait_for_selector("#portfolio", timeout=30_000)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/app/login")
        response = page.goto("/app/model")
        assert response is not None
        assert page.url == f"{base}/app/login?next=/app/model"
    assert watch.problems == []


def test_a_page_on_another_port_cannot_post_with_the_cookie(keyed: tuple[Browser, str]) -> None:
    browser, base = keyed
    attack = (
        f'<form id="f" method="post" action="{base}/admin/reload" enctype="text/plain">'
        '<input name="a" value="b"></form><script>document.getElementById("f").submit()</script>'
    )

    def elsewhere(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=attack)

    with watched(browser, base) as (page, watch):
        sign_in(page)
        page.route(f"{EVIL}**", elsewhere)
        with page.expect_response(f"{base}/admin/reload") as answered:
            page.goto(EVIL)
        reply = answered.value
        # 403, not 401: the cookie went along (same site), and the origin was refused.
        assert (reply.status, json.loads(reply.body())) == (403, {"detail": ELSEWHERE})
        sent = reply.request.all_headers()
        assert sent["origin"] == EVIL.rstrip("/")
        assert "influence_session=" in sent["cookie"]
        # Still signed in, nothing else changed.
        response = page.goto("/app/model")
        assert response is not None
        assert response.status == 200
    assert watch.problems == [
        f"console error at {base}/admin/reload: Failed to load resource: "
        "the server responded with a status of 403 (Forbidden)"
    ]
