"""The API's routes: thin, each validates, calls one domain function, returns a model."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter

from features.budget import follower_portfolio, knapsack, objective_target, objective_values
from features.builder import FEATURES
from serving import schemas
from serving.decisions import DecisionLog, DecisionLogError
from serving.errors import ServingError
from serving.responses import candidate_errors, candidate_scores, portfolio
from serving.scoring import CandidateError, CandidateIn, Scored, score
from serving.settings import ServingSettings
from serving.state import NotReadyError, ServiceState, freeze_heap, load_state

__all__ = ["router"]


async def settings_of(request: Request) -> ServingSettings:
    """The settings the app was created with."""
    settings: ServingSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ServingSettings, Depends(settings_of)]


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


StateDep = Annotated[ServiceState, Depends(current_state)]
Protected = [Depends(require_key)]


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, so that the OpenAPI schema tells the truth."""
    what = {
        400: (schemas.Problem, "The body cannot be decoded (not UTF-8 text)."),
        401: (schemas.Problem, "Missing or wrong API key (when one is configured)."),
        408: (schemas.Problem, "The body did not arrive within the upload timeout."),
        413: (schemas.Problem, "Body over the size limit, too many candidates or posts."),
        422: (schemas.InvalidRequest, "The request breaks the schema; says what and where."),
        503: (schemas.Problem, "Not ready (says why), or too many requests at once."),
    }
    return {c: {"model": what[c][0], "description": what[c][1]} for c in codes}


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
async def model_info(state: StateDep) -> schemas.ModelInfo:
    """The served model's version, training time and metrics against the baselines."""
    meta = state.manifest
    return schemas.ModelInfo(
        version=state.version,
        trained_at=meta.get("trained_at"),
        targets=state.bundle.targets,
        feature_families=list(meta.get("feature_families", [])),
        metrics=dict(meta.get("metrics", {})),
        data_digest=meta.get("data_digest"),
        data_as_of=state.as_of.isoformat(),
        accounts=len(state.posts_of),
    )


def _candidates(request: schemas.PredictRequest) -> list[CandidateIn]:
    # How many candidates and posts a request may hold is checked on its raw body
    # (serving.body), before it is parsed.
    return [
        CandidateIn(
            account_id=c.account_id,
            cost=c.cost,
            posted_at=pd.Timestamp(c.posted_at) if c.posted_at else None,
            history=[h.model_dump() for h in c.history] if c.history else None,
        )
        for c in request.candidates
    ]


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


Response_ = TypeVar("Response_", schemas.PredictResponse, schemas.RankResponse)


async def _logged(
    request: Request,
    endpoint: str,
    state: ServiceState,
    body: schemas.PredictRequest,
    response: Response_,
) -> Response_:
    """`response`, once its decision is recorded; in a thread of the log's own, so that a
    slow or locked database holds up neither the event loop nor scoring."""
    await anyio.to_thread.run_sync(
        _record, request, endpoint, state, body, response, limiter=request.app.state.log_limiter
    )
    return response


def _record(
    request: Request,
    endpoint: str,
    state: ServiceState,
    body: schemas.PredictRequest,
    response: schemas.PredictResponse | schemas.RankResponse,
) -> None:
    """Record the decision: the request's campaign and candidates (without histories)
    and everything answered but the request id and model version, which have columns."""
    log: DecisionLog = request.app.state.decisions
    log.record(
        request_id=response.request_id,
        endpoint=endpoint,
        model_version=state.version,
        campaign=body.campaign.model_dump_json(),
        candidates=_CANDIDATES_JSON.dump_json(
            body.candidates, exclude={"__all__": {"history"}}
        ).decode(),
        outputs=response.model_dump_json(exclude={"request_id", "model_version"}),
    )


@router.post(
    "/predict",
    response_model=schemas.PredictResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 408, 413, 422, 503),
)
async def predict(
    body: schemas.PredictRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.PredictResponse:
    """Expected clicks, referrals, conversions and revenue per candidate, with ROI and why."""
    response = await _run(body, _predict, body, state, settings)
    return await _logged(request, "predict", state, body, response)


def _predict(
    body: schemas.PredictRequest, state: ServiceState, settings: ServingSettings
) -> schemas.PredictResponse:
    candidates = _candidates(body)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    rows = np.arange(len(scored), dtype=np.intp)
    response = schemas.PredictResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        scores=candidate_scores(state, scored, rows, explain=len(scored)),
        errors=candidate_errors(scored),
    )
    return response


@router.post(
    "/rank",
    response_model=schemas.RankResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 408, 413, 422, 503),
)
async def rank(
    body: schemas.RankRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.RankResponse:
    """The portfolio within budget that maximises the objective, beside the follower rule's."""
    response = await _run(body, _rank, body, state, settings)
    return await _logged(request, "rank", state, body, response)


def _rank(
    body: schemas.RankRequest, state: ServiceState, settings: ServingSettings
) -> schemas.RankResponse:
    targets = state.bundle.targets
    needed = objective_target(body.objective)
    if needed not in targets:
        raise ObjectiveError(
            f"The objective {body.objective!r} needs a {needed} model; this model predicts "
            f"{', '.join(targets)}."
        )
    candidates = _candidates(body)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    scored = _first_of_each_account(scored, candidates)
    cost = scored.cost
    value = objective_values(body.objective, scored.predictions, cost)
    chosen = knapsack(value, cost, body.budget)
    follower = follower_portfolio(scored.x[:, FEATURES.index("reach_followers")], cost, body.budget)
    # Highest expected objective first: the ones explained when `explain` cuts the list.
    bought = np.flatnonzero(chosen)[np.argsort(-value[chosen], kind="stable")]
    response = schemas.RankResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        objective=body.objective,
        budget=body.budget,
        portfolio=portfolio(scored, chosen, targets),
        follower_rule=portfolio(scored, follower, targets),
        chosen=candidate_scores(state, scored, bought, body.explain, explain_targets=[needed]),
        errors=candidate_errors(scored),
    )
    return response


def _first_of_each_account(scored: Scored, candidates: list[CandidateIn]) -> Scored:
    """A portfolio buys an account once: a repeated account_id becomes an error entry.

    The first occurrence is the candidate; the errors stay in request order.
    """
    first: dict[str, int] = {}
    repeats: list[CandidateError] = []
    for i, c in enumerate(candidates):
        if c.account_id in first:
            repeats.append(
                CandidateError(
                    i,
                    c.account_id,
                    f"repeats account_id {c.account_id!r} of candidates[{first[c.account_id]}]; "
                    "a portfolio buys an account once",
                )
            )
        else:
            first[c.account_id] = i
    kept = scored.take(~np.isin(scored.index, [e.index for e in repeats]))
    kept.errors = sorted([*scored.errors, *repeats], key=lambda e: e.index)
    return kept


class ObjectiveError(ServingError):
    """The objective asks for a target the model does not predict."""

    status_code = 422


class ReloadError(ServingError):
    """A reload that could not finish; the previous model keeps serving."""

    status_code = 503


@router.post(
    "/admin/reload",
    response_model=schemas.Health,
    dependencies=Protected,
    responses=refusals(401, 422, 503),
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
