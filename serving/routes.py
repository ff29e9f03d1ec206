"""The API's routes: thin, each validates, calls one domain function, returns a model."""

from __future__ import annotations

import hmac
import threading
import uuid
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving import schemas
from serving.decisions import DecisionLog
from serving.errors import ServingError
from serving.ranking import follower_portfolio, knapsack, portfolio_total
from serving.scoring import CandidateError, CandidateIn, Scored, score
from serving.settings import ServingSettings
from serving.state import NotReadyError, ServiceState, load_state

__all__ = ["router"]


class UnauthorizedError(ServingError):
    """Missing or wrong API key."""

    status_code = 401


class TooManyCandidatesError(ServingError):
    """More candidates than the configured limit."""

    status_code = 413


def settings_of(request: Request) -> ServingSettings:
    """The settings the app was created with."""
    settings: ServingSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ServingSettings, Depends(settings_of)]


def require_key(settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """When an API key is configured, the request must carry it (compared in constant time)."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected):
        raise UnauthorizedError("Missing or wrong API key: send it in the X-API-Key header.")


def current_state(request: Request) -> ServiceState:
    """The state in force when the request started; 503 with the reason if there is none."""
    state: ServiceState | None = request.app.state.current
    if state is None:
        raise NotReadyError(f"The service is not ready: {request.app.state.problem}.")
    return state


StateDep = Annotated[ServiceState, Depends(current_state)]
Protected = [Depends(require_key)]


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, so that the OpenAPI schema tells the truth."""
    what = {
        400: (schemas.Problem, "The body cannot be decoded (not UTF-8 text)."),
        401: (schemas.Problem, "Missing or wrong API key (when one is configured)."),
        413: (schemas.Problem, "Body over the size limit, or too many candidates."),
        422: (schemas.InvalidRequest, "The request breaks the schema; says what and where."),
        503: (schemas.Problem, "No model or no data loaded; says why."),
    }
    return {c: {"model": what[c][0], "description": what[c][1]} for c in codes}


router = APIRouter()


@router.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
def health(request: Request) -> Any:
    """Ready when a model and data are loaded; 503 with the reason otherwise."""
    state: ServiceState | None = request.app.state.current
    if state is None:
        body = schemas.Health(status="unavailable", reason=str(request.app.state.problem))
        return JSONResponse(body.model_dump(), status_code=503)
    return schemas.Health(status="ok", model_version=state.version)


@router.get(
    "/model",
    response_model=schemas.ModelInfo,
    dependencies=Protected,
    responses=refusals(401, 422, 503),
)
def model_info(state: StateDep) -> schemas.ModelInfo:
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


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _candidates(request: schemas.PredictRequest, settings: ServingSettings) -> list[CandidateIn]:
    n = len(request.candidates)
    if n > settings.max_candidates:
        raise TooManyCandidatesError(
            f"The request has {n} candidates; at most {settings.max_candidates} are accepted. "
            "Split it into several requests."
        )
    return [
        CandidateIn(
            account_id=c.account_id,
            cost=c.cost,
            posted_at=pd.Timestamp(c.posted_at) if c.posted_at else None,
            history=[h.model_dump() for h in c.history] if c.history else None,
        )
        for c in request.candidates
    ]


def _scores(
    state: ServiceState,
    scored: Scored,
    rows: list[int],
    explain: list[int],
    explain_targets: list[str] | None = None,
) -> list[schemas.CandidateScore]:
    """Response entries for `rows`; those in `explain` carry per-family contributions."""
    records: dict[Any, Any] = dict(scored.predictions.loc[rows].to_dict("index"))
    targets = state.bundle.targets
    explained = (
        state.bundle.contributions(scored.features.loc[explain], explain_targets) if explain else {}
    )
    contributions = {t: dict(frame.to_dict("index")) for t, frame in explained.items()}
    out = []
    for i in rows:
        r = records[i]
        out.append(
            schemas.CandidateScore(
                index=int(i),
                account_id=str(r["account_id"]),
                cost=float(r["cost"]),
                outcomes={
                    t: schemas.Estimate(
                        expected=float(r[t]), low=float(r[f"{t}_low"]), high=float(r[f"{t}_high"])
                    )
                    for t in targets
                },
                roi=_finite(float(r["roi"])) if "roi" in r else None,
                cost_per_action={t: _finite(float(r[f"cost_per_{t}"])) for t in targets},
                followers_baseline={t: float(r[f"{t}_followers"]) for t in targets},
                contributions=(
                    {
                        t: {str(k): float(v) for k, v in rows_of[i].items()}
                        for t, rows_of in contributions.items()
                    }
                    if i in explain
                    else None
                ),
            )
        )
    return out


def _errors(scored: Scored) -> list[schemas.CandidateError]:
    return [
        schemas.CandidateError(index=e.index, account_id=e.account_id, error=e.error)
        for e in scored.errors
    ]


def _log(
    request: Request,
    endpoint: str,
    state: ServiceState,
    body: schemas.PredictRequest,
    response: Any,
) -> None:
    log: DecisionLog = request.app.state.decisions
    log.record(
        request_id=response.request_id,
        endpoint=endpoint,
        model_version=state.version,
        campaign=body.campaign.model_dump(),
        candidates=[c.model_dump(exclude={"history"}) for c in body.candidates],
        outputs=response.model_dump(exclude={"request_id", "model_version"}),
    )


@router.post(
    "/predict",
    response_model=schemas.PredictResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 413, 422, 503),
)
def predict(
    body: schemas.PredictRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.PredictResponse:
    """Expected clicks, referrals, conversions and revenue per candidate, with ROI and why."""
    candidates = _candidates(body, settings)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    rows = list(scored.predictions.index)
    response = schemas.PredictResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        scores=_scores(state, scored, rows, explain=rows),
        errors=_errors(scored),
    )
    _log(request, "predict", state, body, response)
    return response


def _portfolio(p: pd.DataFrame, mask: np.ndarray, targets: list[str]) -> schemas.Portfolio:
    totals = {}
    for t in targets:
        e, lo, hi = portfolio_total(
            p[t].to_numpy(float),
            p[f"{t}_low"].to_numpy(float),
            p[f"{t}_high"].to_numpy(float),
            mask,
        )
        totals[t] = schemas.Estimate(expected=e, low=lo, high=hi)
    cost = float(p["cost"].to_numpy()[mask].sum())
    roi = None
    if "revenue" in totals and cost > 0:
        roi = (totals["revenue"].expected - cost) / cost
    return schemas.Portfolio(
        account_ids=[str(a) for a in p["account_id"].to_numpy()[mask]],
        indices=[int(i) for i in p.index.to_numpy()[mask]],
        cost=cost,
        totals=totals,
        roi=roi,
    )


@router.post(
    "/rank",
    response_model=schemas.RankResponse,
    dependencies=Protected,
    responses=refusals(400, 401, 413, 422, 503),
)
def rank(
    body: schemas.RankRequest, request: Request, state: StateDep, settings: SettingsDep
) -> schemas.RankResponse:
    """The portfolio within budget that maximises the objective, beside the follower rule's."""
    targets = state.bundle.targets
    needed = "revenue" if body.objective == "roi" else body.objective
    if needed not in targets:
        raise ObjectiveError(
            f"The objective {body.objective!r} needs a {needed} model; this model predicts "
            f"{', '.join(targets)}."
        )
    candidates = _candidates(body, settings)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    # A portfolio buys an account once: a repeated account_id is an error entry, the
    # first occurrence is the candidate.
    first: dict[str, int] = {}
    for i, c in enumerate(candidates):
        if c.account_id in first:
            scored.errors.append(
                CandidateError(
                    i,
                    c.account_id,
                    f"repeats account_id {c.account_id!r} of candidates[{first[c.account_id]}]; "
                    "a portfolio buys an account once",
                )
            )
        else:
            first.setdefault(c.account_id, i)
    repeated = {e.index for e in scored.errors}
    scored.errors.sort(key=lambda e: e.index)
    kept = ~scored.predictions.index.isin(list(repeated))
    scored.predictions, scored.features = scored.predictions[kept], scored.features[kept]
    p = scored.predictions
    bought: list[int] = []
    if p.empty:
        chosen = follower = np.zeros(0, dtype=bool)
    else:
        value = p["revenue"] - p["cost"] if body.objective == "roi" else p[needed]
        chosen = knapsack(value.to_numpy(float), p["cost"].to_numpy(float), body.budget)
        # Highest expected objective first: the ones explained when `explain` cuts the list.
        bought = [int(i) for i in value[chosen].sort_values(ascending=False, kind="stable").index]
        followers = scored.features["reach_followers"].to_numpy(float)
        follower = follower_portfolio(followers, p["cost"].to_numpy(float), body.budget)
    response = schemas.RankResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        objective=body.objective,
        budget=body.budget,
        portfolio=_portfolio(p, chosen, targets),
        follower_rule=_portfolio(p, follower, targets),
        chosen=_scores(
            state, scored, bought, explain=bought[: body.explain], explain_targets=[needed]
        ),
        errors=_errors(scored),
    )
    _log(request, "rank", state, body, response)
    return response


class ObjectiveError(ServingError):
    """The objective asks for a target the model does not predict."""

    status_code = 422


_reload_lock = threading.Lock()


@router.post(
    "/admin/reload",
    response_model=schemas.Health,
    dependencies=Protected,
    responses=refusals(401, 422, 503),
)
def reload(request: Request, settings: SettingsDep) -> schemas.Health:
    """Re-resolve the model and reload the histories; swap them in at once.

    Requests already running finish on the state they started with. On failure
    the old state keeps serving and the reason is returned with a 503.
    """
    with _reload_lock:
        try:
            state = load_state(settings)
        except NotReadyError as e:
            raise NotReadyError(f"Reload failed, still serving the previous model: {e}.") from e
        request.app.state.current = state
        request.app.state.problem = None
    return schemas.Health(status="ok", model_version=state.version)


@router.get(
    "/metrics",
    dependencies=Protected,
    response_class=Response,
    responses={
        **refusals(401, 422),
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latency, errors, model version."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
