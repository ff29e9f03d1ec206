"""Load with reloads, short: concurrent /predict and /rank while the model reloads.

Runs `benchmarks/load_reload.py` (the 60 s, 16-client version is in the README) for a
few seconds against a real `influence serve`: no request may fail, every reload must
succeed, and the decision log must hold exactly one record per answered request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_reload.py"
SHORT = ["--seconds", "8", "--clients", "4", "--reload-every", "2", "--candidates", "50"]


@pytest.mark.slow
def test_no_request_fails_and_every_answer_is_logged_while_reloading(trained: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--workspace", str(trained), "--json", *SHORT],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.stdout, done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] == 0, result["first_failures"]
    assert result["by_status"] == {"200": result["answered"]}
    assert result["answered_predict"] > 0
    assert result["answered_rank"] > 0
    assert result["reloads"] == {"200": 3}
    assert result["decision_log_records"] == result["answered"]
    assert result["decision_log_matches"]
    assert done.returncode == 0
