"""The end-to-end tests' fixtures: the browser tests' Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.browser import launch_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module. Where there is none: in CI (`CI=true`, as
    .ci/run sets it, which installs Chromium) the tests fail, so that CI cannot go green
    without them; elsewhere they skip, saying why."""
    try:
        driver, launched = launch_chromium()
    except RuntimeError as e:
        reason = f"browser tests need Playwright and Chromium: {e}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: .ci/run installs Chromium; see its output)")
        pytest.skip(reason)
    try:
        yield launched
    finally:
        launched.close()
        driver.stop()
