"""Runs a killed training left RUNNING are marked FAILED by the next, by their process."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from training.settings import TrainingSettings
from training.tracking.runs import HOST_TAG, PID_TAG, fail_stale_runs
from training.tracking.store import use_tracking

StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture


def test_only_runs_of_a_gone_process_on_this_host_are_failed(
    tmp_path: Path, stored_under: StoredUnder
) -> None:
    tracking = use_tracking(stored_under(tmp_path))
    experiment, client = tracking.experiment_id, tracking.client
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    tags = {
        "dead": {PID_TAG: str(gone.pid), HOST_TAG: here},
        "alive": {PID_TAG: str(os.getpid()), HOST_TAG: here},
        "elsewhere": {PID_TAG: str(gone.pid), HOST_TAG: here + "-other"},
        "untagged": {},
    }
    ids = {name: client.create_run(experiment, tags=t).info.run_id for name, t in tags.items()}
    finished = client.create_run(experiment, tags=tags["dead"]).info.run_id
    client.set_terminated(finished, status="FINISHED")

    assert fail_stale_runs(tracking) == [ids["dead"]]
    status = {name: client.get_run(i).info.status for name, i in ids.items()}
    assert status == {
        "dead": "FAILED",
        "alive": "RUNNING",
        "elsewhere": "RUNNING",
        "untagged": "RUNNING",
    }
    assert client.get_run(finished).info.status == "FINISHED"
    assert fail_stale_runs(tracking) == []
