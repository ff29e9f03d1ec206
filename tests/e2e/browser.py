"""The browser tests' page helpers: Debian's Chromium through Playwright, a page whose every
request, console error and page error is watched, screenshots, the planner used as an
analyst would, and the accounts and shortlists the pages are tried on.

Imported as `tests.e2e.browser` everywhere: by tests/e2e/test_browser.py and
tests/e2e/test_sign_in.py (pytest's importlib mode imports tests/ and tests/e2e/ as
namespace packages of the checkout's root, so a test imports a sibling by that name), by
tests/e2e/conftest.py (the `browser` fixture), and by benchmarks/screenshots.py for the
README's screenshots (which puts the checkout's root on the path first). Not collected:
its name does not start with `test_`.
"""

from __future__ import annotations

import csv
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Error,
        Locator,
        Page,
        Playwright,
        Route,
    )

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
"""Where each page's screenshot goes (gitignored)."""
CHROMIUM = os.environ.get("INFLUENCE_TEST_CHROMIUM", "/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 800
"""The pages' viewport: a laptop's screen."""


def get_json(url: str) -> Any:
    """The JSON body of a GET, whatever its status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def post_json(url: str, body: dict[str, Any]) -> Any:
    """The JSON body of a 200 answer to a POST of `body`."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def launch_chromium() -> tuple[Playwright, Browser]:
    """Playwright's driver and a headless Chromium launched from `CHROMIUM`; the caller
    closes the browser and stops the driver. Raises `RuntimeError` saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise RuntimeError(
            "Playwright is not installed: `pip install -e '.[dev]'` brings it."
        ) from e
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does, as root), "
            "or point INFLUENCE_TEST_CHROMIUM at one."
        )
    driver = sync_playwright().start()
    try:
        return driver, driver.chromium.launch(executable_path=CHROMIUM)
    except Exception:
        driver.stop()
        raise


@dataclass
class Watch:
    """What a browser context did wrong: console errors, uncaught page errors, and
    requests to anywhere but 127.0.0.1 (aborted)."""

    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("blockedbyclient")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append(f"{message.location.get('url', '')}: {message.text}")

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    @property
    def problems(self) -> list[str]:
        """Everything recorded, one sentence each (empty: all well)."""
        return [
            *(f"console error at {c}" for c in self.console),
            *(f"uncaught error: {e}" for e in self.page_errors),
            *(f"request left 127.0.0.1 (aborted): {u}" for u in self.outside),
        ]


@contextmanager
def watched(browser: Browser, base_url: str) -> Iterator[tuple[Page, Watch]]:
    """A page in a fresh 1280-wide context on `base_url`, every request, console message
    and page error of it watched; closed afterwards."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": WIDTH, "height": HEIGHT}, accept_downloads=True
    )
    watch = Watch()
    context.route("**/*", watch.route)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    try:
        yield page, watch
    finally:
        context.close()


def section(page: Page, heading: str) -> Locator:
    """The page's `<section>` under the heading `heading`."""
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def screenshot(page: Page, name: str, folder: Path = SHOTS) -> Path:
    """The whole page as `folder/NAME.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.png"
    page.screenshot(path=out, full_page=True)
    return out


def plan_campaign(
    page: Page,
    shortlist: Path,
    *,
    brand: str,
    topic: str,
    budget: float,
    objective: str,
    download_to: Path,
) -> Path:
    """Plan a campaign on the open `/app/` page as an analyst would: fill in the brief,
    the budget and the objective, upload the `shortlist` CSV (`account_id`, `cost`), submit,
    wait for the portfolio (`#portfolio`), then download its CSV (`#download-csv`) to
    `download_to`, which is returned: what `influence rank` writes, one row per candidate
    (`account_id`, ..., `chosen_by_model`).

    `#objective` may be a `<select>` (of the objectives' names) or a text field; the form to
    submit is the one that holds `#shortlist`."""
    page.fill("#brand", brand)
    page.fill("#topic", topic)
    page.fill("#budget", f"{budget:.2f}")
    objective_field = page.locator("#objective")
    if objective_field.evaluate("e => e.tagName") == "SELECT":
        objective_field.select_option(objective)
    else:
        objective_field.fill(objective)
    page.set_input_files("#shortlist", shortlist)
    page.locator("form:has(#shortlist) [type=submit]").click()
    page.wait_for_selector("#portfolio", timeout=30_000)
    with page.expect_download() as download:
        page.click("#download-csv")
    download.value.save_as(download_to)
    return download_to


@dataclass(frozen=True)
class Served:
    """A running service: its address and the data directory it serves."""

    base: str
    world: Path
    model: Path


def flagged(served: Served, flags: int = 2) -> tuple[str, dict[str, Any]]:
    """The first account with past placements (in the data's order) that has at least
    `flags` flags, and its profile (`GET /accounts/{id}`). Raises `LookupError` if none has."""
    import pandas as pd

    placements = pd.read_parquet(served.world / "placements.parquet", columns=["account_id"])
    for account in placements["account_id"].drop_duplicates():
        profile = get_json(f"{served.base}/accounts/{quote(str(account), safe='')}")
        if len(profile["flags"]) >= flags:
            return str(account), profile
    raise LookupError(f"no account with past placements has {flags} flags")


def shortlist_of(served: Served, out: Path) -> tuple[dict[str, str], list[dict[str, Any]], float]:
    """The latest campaign's brief, its placements' accounts at their costs written to `out`
    as a shortlist CSV (`account_id`, `cost`), and a budget that buys about a third of them."""
    import pandas as pd

    campaign = pd.read_parquet(served.world / "campaigns.parquet").sort_values("starts_at").iloc[-1]
    placements = pd.read_parquet(served.world / "placements.parquet")
    rows = placements[placements["campaign_id"] == campaign["campaign_id"]].head(20)
    costs = [round(float(c), 2) for c in rows["cost"]]
    candidates = [
        {"account_id": str(a), "cost": c} for a, c in zip(rows["account_id"], costs, strict=True)
    ]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["account_id", "cost"])
        writer.writeheader()
        writer.writerows(candidates)
    brief = {"brand": str(campaign["brand"]), "topic": str(campaign["topic"])}
    return brief, candidates, round(sum(costs) / 3, 2)
