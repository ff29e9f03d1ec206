"""What a route may depend on: the app's settings, the state in force, the documented key.

FastAPI dependencies, in one place, so that the routes only parse, call and return.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Request

from serving import schemas
from serving.backtest import LatestBacktest
from serving.errors import NotReadyError
from serving.settings import ServingSettings
from serving.state import ServiceState

__all__ = ["BacktestDep", "Protected", "SettingsDep", "StateDep", "refusals"]


async def settings_of(request: Request) -> ServingSettings:
    """The settings the app was created with."""
    settings: ServingSettings = request.app.state.settings
    return settings


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Documents the X-API-Key header in the OpenAPI schema; nothing more.

    `serving.middleware.ApiKeyGate` checks the key, before the body is read: by the
    time a dependency runs, FastAPI has read and parsed the body already.
    """


async def current_state(request: Request) -> ServiceState:
    """The state in force when the request started; 503 with the reason if there is none."""
    state: ServiceState | None = request.app.state.current
    if state is None:
        problem = str(request.app.state.problem).rstrip(".")
        raise NotReadyError(f"The service is not ready: {problem}.")
    return state


SettingsDep = Annotated[ServingSettings, Depends(settings_of)]
StateDep = Annotated[ServiceState, Depends(current_state)]


async def latest_backtest(
    request: Request, state: StateDep, settings: SettingsDep
) -> LatestBacktest:
    """The state's latest backtest (`serving.backtest`). The first time, it is read from
    MLflow in a thread of its own, one at a time, so that neither the event loop nor the
    threads that score wait on it, and for at most `backtest_timeout_seconds`: past that
    the read is left to finish on its own and the answer says why there is no backtest
    (an MLflow server that does not answer is retried by MLflow for minutes). After that,
    at once (`BacktestReads`)."""
    reads = state.backtest_reads
    held = reads.held()
    if held is not None:
        return held
    seconds = settings.backtest_timeout_seconds
    limiter = request.app.state.backtest_limiter
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(
                reads.read, abandon_on_cancel=True, limiter=limiter
            )
    except TimeoutError:
        return reads.timed_out(seconds)


BacktestDep = Annotated[LatestBacktest, Depends(latest_backtest)]
Protected = [Depends(require_key)]


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, so that the OpenAPI schema tells the truth."""
    what = {
        400: (schemas.Problem, "The body cannot be decoded (not UTF-8 text)."),
        401: (schemas.Problem, "Missing or wrong API key (when one is configured)."),
        403: (
            schemas.Problem,
            "A signed-in browser's request (the cookie, no X-API-Key) from another page "
            "than this service's own.",
        ),
        408: (schemas.Problem, "The body did not arrive within the upload timeout."),
        413: (schemas.Problem, "Body over the size limit, too many candidates or posts."),
        404: (schemas.Problem, "No such account in the served data."),
        422: (schemas.InvalidRequest, "The request breaks the schema; says what and where."),
        503: (schemas.Problem, "Not ready (says why), or too many requests at once."),
    }
    return {c: {"model": what[c][0], "description": what[c][1]} for c in codes}
