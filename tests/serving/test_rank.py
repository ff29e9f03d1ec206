"""The `/rank` use case: one pass through scoring, the budget rules and the answer's shape.

A real request is traced (every call between the project's modules, with
`sys.setprofile`): `serving.rank` calls each of its collaborators in one phase, in
order, and none of them calls back into `serving.rank` or into another of them.
Through HTTP, the route calls the use case once, then the decision log.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving import schemas
from serving.app import create_app
from serving.rank import rank
from serving.settings import ServingSettings
from serving.state import ServiceState, load_state

PROJECT = ("features.", "training.", "serving.")
DATA_TYPES = {"serving.schemas"}  # pydantic models: data, not a step of the request
CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}

Calls = list[tuple[str, str]]


def _module(frame: FrameType | None) -> str:
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


@contextmanager
def traced() -> Iterator[Calls]:
    """Every call into a project module from another module, as (caller, callee), in order.

    The caller may be outside the project (FastAPI, or a worker thread's entry).
    """
    calls: Calls = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        callee, caller = _module(frame), _module(frame.f_back)
        outside = callee in DATA_TYPES or caller in DATA_TYPES
        if event == "call" and callee != caller and callee.startswith(PROJECT) and not outside:
            calls.append((caller, callee))

    hook: Callable[..., Any] = profile
    threading.setprofile(hook)
    sys.setprofile(hook)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _phases(calls: Calls, of: str) -> list[str]:
    """The modules `of` calls into, consecutive repeats collapsed."""
    out: list[str] = []
    for caller, callee in calls:
        if caller == of and (not out or out[-1] != callee):
            out.append(callee)
    return out


@pytest.fixture(scope="module")
def settings(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    return ServingSettings(
        data_dir=trained / "world",
        model_uri=str(trained / "models" / "champion.json"),
        decision_log=str(tmp_path_factory.mktemp("rank") / "decisions.db"),
    )


@pytest.fixture(scope="module")
def state(settings: ServingSettings) -> ServiceState:
    return load_state(settings)


def _request(state: ServiceState) -> dict[str, Any]:
    known = sorted(state.online.row_of)
    history = [
        {
            "posted_at": f"2025-06-{d:02d}T12:00:00Z",
            "followers": 4000 + d,
            "likes": 200,
            "comments": 9,
            "shares": 3,
            "text": "marathon training and running shoes",
        }
        for d in range(1, 15)
    ]
    return {
        "campaign": CAMPAIGN,
        "budget": 900.0,
        "objective": "roi",
        "explain": 3,
        "candidates": [
            *({"account_id": a, "cost": 100.0 + i} for i, a in enumerate(known[:20])),
            {"account_id": known[0], "cost": 50.0},  # a repeat: an error entry
            {"account_id": known[21], "cost": 80.0, "posted_at": "2025-03-01T00:00:00Z"},
            {"account_id": "newcomer", "cost": 60.0, "history": history},
        ],
    }


def test_the_use_case_passes_through_each_module_once(
    state: ServiceState, settings: ServingSettings
) -> None:
    body = schemas.RankRequest.model_validate(_request(state))
    with traced() as calls:
        answer = rank(body, state, settings)
    assert [e.index for e in answer.errors] == [20]
    assert answer.portfolio.cost <= 900.0
    assert _phases(calls, "serving.rank") == [
        "serving.scoring",
        "features.budget",
        "serving.responses",
    ]
    # Entered once, by this test; nothing of the project calls back into it.
    assert [a for a, b in calls if b == "serving.rank"] == ["tests.serving.test_rank"]
    steps = set(_phases(calls, "serving.rank")) | {"serving.rank"}
    sideways = sorted({(a, b) for a, b in calls if a in steps and b in steps})
    assert [c for c in sideways if c[0] != "serving.rank"] == []
    # What scoring reaches (the online snapshot, the builder for the past and unknown
    # candidates, the model) it reaches itself: those are not steps of the use case.
    reached = {b for a, b in calls if a == "serving.scoring"}
    assert {"features.online", "features.builder", "training.artifacts.bundle"} <= reached


def test_through_http_the_route_calls_the_use_case_then_the_log(
    state: ServiceState, settings: ServingSettings
) -> None:
    with TestClient(create_app(settings)) as client, traced() as calls:
        answer = client.post("/rank", json=_request(state))
    assert answer.status_code == 200, answer.text
    # The use case runs in a worker thread (entered from anyio, once); the route's own
    # calls are the decision log's record, in the log's thread.
    entered = [a for a, b in calls if b == "serving.rank"]
    assert len(entered) == 1
    assert not entered[0].startswith(PROJECT)
    assert {b for a, b in calls if a == "serving.routes"} == {"serving.decisions"}
