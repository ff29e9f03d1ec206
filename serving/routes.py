"""The API's routes: each parses, calls one use case (`serving.predict`, `serving.rank`,
`serving.discover`), records the decision and returns; dependencies are in
`serving.dependencies`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter

from serving import accounts, schemas
from serving import discover as discovering
from serving import predict as predicting
from serving import rank as ranking
from serving.backtest import backtest_summary
from serving.decisions import DecisionLog
from serving.dependencies import BacktestDep, Protected, SettingsDep, StateDep, refusals
from serving.errors import DecisionLogError, NotReadyError, ReloadError
from serving.plan_schemas import DiscoverRequest, DiscoverResponse
from serving.profile_schemas import AccountProfile
from serving.state import ServiceState, freeze_heap, load_state

__all__ = ["logged", "router", "sent_candidates"]


router = APIRouter()


@router.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
async def health(request: Request) -> Any:
    """Ready when a model and data are loaded and the decision log is the file it opened;
    503 with the reason otherwise."""
    state: ServiceState | None = request.app.state.current
    problem = str(request.app.state.problem)
    if state is not None:
        try:
            request.app.state.decisions.check()
        except DecisionLogError as e:
            state, problem = None, str(e).rstrip(".")
    if state is None:
        body = schemas.Health(status="unavailable", reason=problem)
        return JSONResponse(body.model_dump(), status_code=503)
    return schemas.Health(status="ok", model_version=state.version)


@router.get(
    "/model",
    response_model=schemas.ModelInfo,
    dependencies=Protected,
    responses=refusals(401, 422, 503),
)
async def model_info(state: StateDep, backtest: BacktestDep) -> schemas.ModelInfo:
    """The served model's version, training time, metrics against the baselines, whether
    the data served is the data it was trained on, and the project's latest backtest."""
    meta = state.manifest
    return schemas.ModelInfo(
        version=state.version,
        trained_at=meta.get("trained_at"),
        targets=state.bundle.targets,
        feature_families=list(meta.get("feature_families", [])),
        metrics=dict(meta.get("metrics", {})),
        data_digest=meta.get("data_digest"),
        data_as_of=state.as_of.isoformat(),
        accounts=len(state.post_counts),
        data_matches_model=state.data_check.matches,
        data_note=state.data_check.note,
        price=meta.get("price"),
        backtest=backtest_summary(backtest),
        backtest_note=backtest.note or None,
    )


INLINE_CANDIDATES = 8
"""Requests with at most this many candidates, none with a history, are scored on the
event loop itself (about a millisecond each); larger ones in the thread pool, so that
they do not hold up /health. Scoring is CPU-bound Python under the GIL, so the pool
adds no throughput for small requests, only two thread hand-offs."""

Answer = TypeVar("Answer")


async def _run(
    body: schemas.PredictRequest,
    work: Callable[..., Answer],
    *args: Any,
) -> Answer:
    small = len(body.candidates) <= INLINE_CANDIDATES and not any(
        c.history for c in body.candidates
    )
    return work(*args) if small else await run_in_threadpool(work, *args)


_CANDIDATES_JSON: TypeAdapter[list[schemas.CandidateIn]] = TypeAdapter(list[schemas.CandidateIn])


Response_ = TypeVar("Response_", schemas.PredictResponse, schemas.RankResponse, DiscoverResponse)


def sent_candidates(body: schemas.PredictRequest) -> str:
    """The request's candidates as the decision log keeps them: as sent, without histories."""
    return _CANDIDATES_JSON.dump_json(body.candidates, exclude={"__all__": {"history"}}).decode()


async def logged(
    request: Request,
    endpoint: str,
    state: ServiceState,
    inputs: tuple[str, str],
    response: Response_,
) -> Response_:
    """`response`, once its decision is recorded with `inputs` (the campaign and the
    candidates, as JSON texts); in a thread of the log's own, so that a slow or locked
    database holds up neither the event loop nor scoring."""
    await anyio.to_thread.run_sync(
        _record, request, endpoint, state, inputs, response, limiter=request.app.state.log_limiter
    )
    return response


def _record(
    request: Request,
    endpoint: str,
    state: ServiceState,
    inputs: tuple[str, str],
    response: schemas.PredictResponse | schemas.RankResponse | DiscoverResponse,
) -> None:
    """Record the decision: the request's campaign and candidates and everything answered
    but the request id and model version, which have columns."""
    log: DecisionLog = request.app.state.decisions
    campaign, candidates = inputs
    log.record(
        request_id=response.request_id,
        endpoint=endpoint,
        model_version=state.version,
        campaign=campaign,
        candidates=candidates,
        outputs=response.model_dump_json(exclude={"request_id", "model_version"}),
    )


@router.post(
    "/predict",
    response_model=schemas.PredictResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 403, 408, 413, 422, 503),
)
async def predict(
    body: schemas.PredictRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.PredictResponse:
    """Expected clicks, referrals, conversions and revenue per candidate, with ROI and why."""
    response = await _run(body, predicting.predict, body, state, settings)
    inputs = (body.campaign.model_dump_json(), sent_candidates(body))
    return await logged(request, "predict", state, inputs, response)


@router.post(
    "/rank",
    response_model=schemas.RankResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 403, 408, 413, 422, 503),
)
async def rank(
    body: schemas.RankRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.RankResponse:
    """The portfolio within budget that maximises the objective, beside the follower rule's."""
    response = await _run(body, ranking.rank, body, state, settings)
    inputs = (body.campaign.model_dump_json(), sent_candidates(body))
    return await logged(request, "rank", state, inputs, response)


@router.post(
    "/discover",
    response_model=DiscoverResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 403, 408, 413, 422, 503),
)
async def discover(
    body: DiscoverRequest, request: Request, state: StateDep, settings: SettingsDep
) -> DiscoverResponse:
    """The best known accounts by predicted objective per estimated cost, and the portfolio
    within budget beside the follower rule's."""
    response = await run_in_threadpool(discovering.discover, body, state, settings)
    # No candidates were sent: the log keeps what chose them, the range and the listing.
    inputs = (body.campaign.model_dump_json(), body.model_dump_json(exclude={"campaign"}))
    return await logged(request, "discover", state, inputs, response)


@router.post(
    "/admin/reload",
    response_model=schemas.Health,
    dependencies=Protected,
    responses=refusals(401, 403, 422, 503),
)
async def reload(request: Request, settings: SettingsDep) -> schemas.Health:
    """Re-resolve the model and reload the histories; swap them in at once.

    Requests already running finish on the state they started with. On failure,
    or when loading takes longer than `reload_timeout_seconds`, the old state keeps
    serving and the reason is returned with a 503. One reload runs at a time; one
    given up on may still be reading in its thread, and until it ends the next
    reload is refused rather than queued behind it.
    """
    previous = "Reload failed, still serving the previous model"
    lock: anyio.Lock = request.app.state.reload_lock
    limiter: anyio.CapacityLimiter = request.app.state.reload_limiter
    # Held by the loading thread itself: the limiter's token is handed back as soon as
    # the wait is given up on, while the abandoned thread goes on loading.
    loading: threading.Lock = request.app.state.reload_loading
    timeout = settings.reload_timeout_seconds

    def load() -> ServiceState:
        with loading:
            return load_state(settings)

    with anyio.move_on_after(timeout) as waited:
        async with lock:
            if loading.locked():
                raise ReloadError(
                    f"{previous}: the last reload, given up after {timeout:g} seconds, is still "
                    "loading. Try again later, or restart the service."
                )
            try:
                state = await anyio.to_thread.run_sync(
                    load, limiter=limiter, abandon_on_cancel=True
                )
            except NotReadyError as e:
                # Some reasons end in a full stop of their own (the bundle's), some do not.
                raise ReloadError(f"{previous}: {str(e).rstrip('.')}.") from e
            request.app.state.current = state
            request.app.state.problem = None
            freeze_heap()
            return schemas.Health(status="ok", model_version=state.version)
    assert waited.cancelled_caught
    raise ReloadError(
        f"{previous}: loading did not finish within {timeout:g} seconds "
        "(INFLUENCE_RELOAD_TIMEOUT_SECONDS). Is a file of the manifest or the data very "
        "large, or not a regular file?"
    )


@router.get(
    "/accounts/{account_id}",
    response_model=AccountProfile,
    dependencies=Protected,
    responses=refusals(401, 404, 422, 503),
)
async def account(account_id: str, state: StateDep) -> AccountProfile:
    """One known account's profile: followers over time with jumps likes did not follow,
    engagement against accounts of its tier, comments and shares per like, sponsored
    against organic engagement, cadence, topics, past placements, and flags in plain
    sentences (likely bought followers, a possible engagement pod)."""
    return await run_in_threadpool(accounts.profile, state, account_id)


@router.get(
    "/metrics",
    dependencies=Protected,
    response_class=Response,
    responses={
        **refusals(401, 422),
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latency, errors, model version."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
