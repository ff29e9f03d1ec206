"""The FastAPI application: built by `create_app`, loaded in its lifespan, never at import."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import Scope

from serving.body import BodyLimits, check_shape
from serving.decisions import DecisionLog
from serving.docs import add_docs
from serving.errors import NotReadyError, ServingError
from serving.examples import with_examples
from serving.invalid import MAX_ERRORS, describe
from serving.login import FORM_BYTES
from serving.login import router as login_router
from serving.middleware import ApiKeyGate, BoundedBody, Measure, NoFraming
from serving.pages import root_router
from serving.pages import router as pages_router
from serving.routes import router
from serving.session import LOGIN, LOGOUT
from serving.settings import ServingSettings, get_settings
from serving.state import freeze_heap, load_state

__all__ = ["create_app"]

SHAPE_CHECKED = frozenset({"/predict", "/rank", "/discover"})
INLINE_BYTES = 4096
"""Bodies up to this size are shape-checked on the event loop (microseconds); larger ones
in a worker thread of their own, so that a 20 MB body does not hold up /health."""


def _shape_check(limits: BodyLimits) -> Callable[[Scope, bytes], Awaitable[None]]:
    limiter = anyio.CapacityLimiter(2)

    async def inspect(scope: Scope, body: bytes) -> None:
        if scope["path"] not in SHAPE_CHECKED:
            return
        if len(body) <= INLINE_BYTES:
            check_shape(body, limits)
        else:
            await anyio.to_thread.run_sync(check_shape, body, limits, limiter=limiter)

    return inspect


class Service(FastAPI):
    """The app, whose OpenAPI schema carries request examples built from the state in
    force (`serving.examples`), so that "Try it out" names the served data's accounts."""

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema (built once), with the current state's request examples."""
        return with_examples(super().openapi(), self.state.current)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """Build the app. Model, histories and the decision log are opened in the lifespan."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in anyio's thread pool; its size is how many score at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app.state.reload_lock = anyio.Lock()
        app.state.reload_limiter = anyio.CapacityLimiter(1)
        app.state.reload_loading = threading.Lock()
        app.state.log_limiter = anyio.CapacityLimiter(4)
        app.state.backtest_limiter = anyio.CapacityLimiter(1)
        app.state.decisions = DecisionLog(settings.decision_log)
        try:
            app.state.current = load_state(settings)
            app.state.problem = None
        except NotReadyError as e:
            app.state.current, app.state.problem = None, str(e)
        freeze_heap()
        yield
        app.state.decisions.close()

    app = Service(
        title="influence",
        summary="Score, rank and explain influencers by the actions they cause, not by followers.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN; `add_docs` serves them.
        docs_url=None,
        redoc_url=None,
    )
    add_docs(app)
    app.state.settings = settings
    app.state.current = None
    app.state.problem = "starting"
    registry = CollectorRegistry()
    app.state.registry = registry
    requests = Counter(
        "influence_requests", "Requests answered", ["path", "status"], registry=registry
    )
    latency = Histogram(
        "influence_request_seconds",
        "Request latency",
        ["path"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        registry=registry,
    )
    ready = Gauge("influence_ready", "1 when a model and data are loaded", registry=registry)
    ready.set_function(lambda: 0.0 if app.state.current is None else 1.0)

    @app.exception_handler(ServingError)
    async def serving_error(_: Request, exc: ServingError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.status_code == 422:  # one documented shape for every 422
            body["errors"] = []
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        # A long list is described in a thread: the event loop also answers /health.
        if len(errors) > MAX_ERRORS:
            body = await anyio.to_thread.run_sync(describe, errors)
        else:
            body = describe(errors)
        return JSONResponse(body, status_code=422)

    app.include_router(router)
    app.include_router(login_router)
    app.include_router(pages_router)
    app.include_router(root_router)
    # Added innermost first: a request meets Measure, NoFraming, CORS, the key gate, the body.
    app.add_middleware(
        BoundedBody,
        max_bytes=settings.max_body_bytes,
        max_in_flight=settings.max_in_flight,
        timeout=settings.body_timeout_seconds,
        inspect=_shape_check(
            BodyLimits(settings.max_candidates, settings.max_request_history_posts)
        ),
        # A reload carries no body: a service busy answering can still be reloaded.
        small_paths={LOGIN: FORM_BYTES, LOGOUT: FORM_BYTES, "/admin/reload": FORM_BYTES},
    )
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    # Signing in and out needs no key: the form is how a browser gets the session cookie.
    app.add_middleware(ApiKeyGate, key=key, open_paths=frozenset({"/health", LOGIN, LOGOUT}))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(NoFraming)
    app.add_middleware(Measure, requests=requests, latency=latency)
    return app
