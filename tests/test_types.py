"""mypy strict over the three packages, as one test of the suite.

`make test` runs it here rather than before pytest, so that its half-minute of one core
(from a cold cache, as in CI) overlaps the other test process instead of adding to the
suite's time; `make lint` still runs mypy on its own. Marked `slow`: `make test-fast` leaves
it to the editor and `make lint`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_packages_pass_mypy_strict() -> None:
    # pyproject.toml's [tool.mypy] names the packages and the strictness; run where it is.
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found in ")
