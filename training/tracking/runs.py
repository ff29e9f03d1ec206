"""Runs left RUNNING by a killed `influence train`: found by their process, marked FAILED.

A run killed with SIGKILL (or by the out-of-memory killer) never reaches MLflow's
end of run, so it stays RUNNING for ever and the UI shows it as in progress. Each
run records the process that owns it (pid and host, as tags); the next training
run marks FAILED the runs of the experiment that are still RUNNING and whose process
on this host is gone. A run from another host is left alone: its process cannot be
checked from here.
"""

from __future__ import annotations

import os
import socket

from training.tracking.store import Tracking

__all__ = ["HOST_TAG", "PID_TAG", "fail_stale_runs", "process_tags"]

PID_TAG = "influence.pid"
HOST_TAG = "influence.host"


def process_tags() -> dict[str, str]:
    """The tags that tie a run to this process: its pid and this host's name."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def fail_stale_runs(tracking: Tracking) -> list[str]:
    """Mark FAILED the RUNNING runs of the handle's experiment whose process on this host is gone.

    Takes the store handle (`use_tracking`). Runs without the tags (started by something
    else), from another host, or whose process still lives are left alone. Returns the
    ids of the runs marked.
    """
    client = tracking.client
    host = socket.gethostname()
    marked: list[str] = []
    for run in client.search_runs([tracking.experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get(PID_TAG, "")
        if tags.get(HOST_TAG) != host or not pid.isdigit() or _alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        marked.append(run.info.run_id)
    return marked
