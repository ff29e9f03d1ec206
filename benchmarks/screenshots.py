"""The README's screenshots of the analyst's pages: docs/screenshots/*.png, in one command.

Starts `influence serve` on a free 127.0.0.1 port over a trained workspace (by default the
demo's, as `make demo` leaves it: the simulated world `work/world` and `models/champion.json`),
opens the pages in Debian's headless Chromium at 1280 pixels wide, with the browser tests' own
helpers (`tests/e2e/browser.py`: nothing may leave 127.0.0.1, no console error), and
writes, full page:

- `home.png`: `/app/`;
- `account.png`: the first account with past placements and two flags;
- `model.png`: `/app/model`;
- `planner.png`: `/app/` after planning the latest campaign's shortlist (its accounts at their
  costs, a third of their total as the budget, clicks), once the planner is there; until then
  it is left as it is, and the script says so.

Each image is reduced to 256 colours (Pillow, which matplotlib brings), which keeps a page at
tens of kilobytes. The decision the planner logs goes to a temporary log, not the demo's.

    make screenshots                                   # after `make demo`
    python benchmarks/screenshots.py --data work/world --model models/champion.json \\
        --out docs/screenshots
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# The browser tests' helpers, imported by the name the tests import them by: tests/ is a
# namespace package of the checkout's root, which a script run by path does not have on
# its path (its own folder, benchmarks/, is).
sys.path.insert(0, str(ROOT))
from tests.e2e.browser import (  # noqa: E402 - needs the root on the path, just above
    Served,
    flagged,
    get_json,
    launch_chromium,
    plan_campaign,
    screenshot,
    shortlist_of,
    watched,
)


def shrink(path: Path) -> int:
    """Rewrite the PNG at `path` in 256 colours; returns its size in bytes."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path.stat().st_size


def serve(data: Path, model: Path, log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`influence serve` on a free port, ready (its /health says ok); the caller stops it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "serving", "serve", "--data", str(data), "--port", str(port)]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "INFLUENCE_DECISION_LOG": str(log_dir / "decisions.db"),
    }
    # Its start-up lines and ready-to-paste curl are not this script's to say.
    log = (log_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [*command, "--model", str(model)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if get_json(f"{base}/health").get("status") == "ok":
                return process, base
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            said = (log_dir / "serve.log").read_text()
            raise SystemExit(f"influence serve did not become ready on {base}:\n{said}")
        time.sleep(0.3)


def take(data: Path, model: Path, base: str, out: Path, scratch: Path) -> list[str]:
    """Every page's screenshot into `out`; returns one line per image (or per page left)."""
    served = Served(base, data, model)
    said = []
    driver, browser = launch_chromium()
    try:
        account, _ = flagged(served)
        pages = {"home": "/app/", "account": f"/app/accounts/{account}", "model": "/app/model"}
        for name, path in pages.items():
            with watched(browser, base) as (page, watch):
                page.goto(path)
                shot = screenshot(page, name, out)
                assert watch.problems == [], watch.problems
            said.append(f"{shot.relative_to(ROOT)}: {path}, {shrink(shot):,} bytes")
        with watched(browser, base) as (page, watch):
            page.goto("/app/")
            if page.locator("#shortlist").count() == 0:
                said.append("planner.png left as it is: /app/ has no planner (#shortlist) yet")
                return said
            brief, _, budget = shortlist_of(served, scratch / "shortlist.csv")
            plan_campaign(
                page,
                scratch / "shortlist.csv",
                **brief,
                budget=budget,
                objective="clicks",
                download_to=scratch / "portfolio.csv",
            )
            shot = screenshot(page, "planner", out)
            assert watch.problems == [], watch.problems
        said.append(f"{shot.relative_to(ROOT)}: a shortlist planned, {shrink(shot):,} bytes")
        return said
    finally:
        browser.close()
        driver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "work" / "world")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "champion.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not args.model.exists():
        raise SystemExit(f"No model at {args.model}: run `make demo` first (or pass --model).")
    with tempfile.TemporaryDirectory(prefix="influence-screenshots-") as scratch:
        process, base = serve(args.data, args.model, Path(scratch))
        try:
            lines = take(
                args.data.resolve(), args.model.resolve(), base, args.out.resolve(), Path(scratch)
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    print("\n".join(lines))  # noqa: T201 - a script reports on stdout


if __name__ == "__main__":
    main()
