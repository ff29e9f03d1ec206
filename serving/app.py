"""The FastAPI application: built by `create_app`, loaded in its lifespan, never at import."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.decisions import DecisionLog
from serving.errors import ServingError
from serving.routes import router
from serving.settings import ServingSettings, get_settings
from serving.state import NotReadyError, freeze_heap, load_state

__all__ = ["create_app"]

Message = MutableMapping[str, Any]


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413 and a reason, before any parsing.

    A declared Content-Length is checked at once. A body without one (chunked) is
    read here, at most `limit` bytes of it, and handed on whole; past the limit the
    request is refused. (Raising from inside the app's body read would reach the
    client as FastAPI's generic 400.)
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)

    @property
    def message(self) -> str:
        """What a refused client is told."""
        return (
            f"The request body is larger than the limit of {self.limit} bytes; "
            "send fewer candidates or shorter histories."
        )

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Measure:
    """Count answers per route and status and time them, for /metrics.

    Plain ASGI: Starlette's `@app.middleware("http")` wraps every request in extra
    tasks and streams, which costs more than scoring one candidate.
    """

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(path).observe(time.perf_counter() - start)
            self.requests.labels(path, str(status)).inc()


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:10]:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            parts.append(f"body: not valid JSON ({reason}) at character {error['loc'][-1]}")
            continue
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """Build the app. Model, histories and the decision log are opened in the lifespan."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in anyio's thread pool; its size is how many score at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app.state.decisions = DecisionLog(settings.decision_log)
        try:
            app.state.current = load_state(settings)
            app.state.problem = None
        except NotReadyError as e:
            app.state.current, app.state.problem = None, str(e)
        freeze_heap()
        yield
        app.state.decisions.close()

    app = FastAPI(
        title="influence",
        summary="Score, rank and explain influencers by the actions they cause, not by followers.",
        version="0.1.0",
        lifespan=lifespan,
    )
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
        return JSONResponse(
            {"detail": _validation_message(exc), "errors": jsonable_encoder(exc.errors())},
            status_code=422,
        )

    app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Measure, requests=requests, latency=latency)
    return app
