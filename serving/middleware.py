"""The service's ASGI middleware: the API key, bounded bodies and metrics, before any route.

Plain ASGI rather than Starlette's `@app.middleware("http")`, which wraps every
request in extra tasks and streams that cost more than scoring one candidate.
Outermost first: `Measure` (counts every answer, refusals too), CORS, `ApiKeyGate`
(a request without the key is refused before a byte of its body is read), then
`BoundedBody` (size, upload time, bodies in flight, shape).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.errors import ServingError

__all__ = ["ApiKeyGate", "BoundedBody", "Measure", "refuse"]

Message = MutableMapping[str, Any]
Inspect = Callable[[Scope, bytes], Awaitable[None]]


async def refuse(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """Answer `{"detail": ...}` with `status`, as every refusal of the API is shaped
    (a 422 also carries `errors`, empty here, as its documented schema says)."""
    content: dict[str, object] = {"detail": detail}
    if status == 422:
        content["errors"] = []
    body = json.dumps(content).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Measure:
    """Count answers per route and status and time them, for /metrics."""

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


class ApiKeyGate:
    """When a key is set, refuse (401) any request without it but to `open_paths`.

    The key is compared as bytes: the header's raw bytes against the key's UTF-8
    encoding, in constant time, from the headers alone, so the body of a refused
    request is never read. CORS preflights (OPTIONS) pass: browsers send them
    without custom headers, and the CORS middleware outside answers them.
    """

    MESSAGE = "Missing or wrong API key: send it in the X-API-Key header."

    def __init__(self, app: ASGIApp, key: str | None, open_paths: frozenset[str]) -> None:
        self.app, self.open_paths = app, open_paths
        self.key = key.encode("utf-8") if key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is None
            or scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or scope["path"] in self.open_paths
        ):
            await self.app(scope, receive, send)
            return
        sent = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                sent = value
        if not hmac.compare_digest(sent, self.key):
            await refuse(send, 401, self.MESSAGE)
            return
        await self.app(scope, receive, send)


class BoundedBody:
    """Receive each request body whole, within bounds, before the app sees it.

    Refuses with the reason: over `max_bytes` (413, at once when Content-Length
    says so); not all sent within `timeout` seconds (408); more than `max_in_flight`
    bodies being received or answered (503 with Retry-After). Then `inspect` (the
    body's shape check) may refuse it with a ServingError's status and message.
    Bodies held at once are bounded, so memory is at most `max_in_flight` times
    `max_bytes` plus what their scoring takes.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_in_flight: int,
        timeout: float,
        inspect: Inspect | None = None,
    ) -> None:
        self.app, self.max_bytes, self.timeout, self.inspect = app, max_bytes, timeout, inspect
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    @property
    def too_large(self) -> str:
        """What a client whose body is over the limit is told."""
        return (
            f"The request body is larger than the limit of {self.max_bytes} bytes; "
            "send fewer candidates or shorter histories."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await refuse(send, 413, self.too_large)
            return
        if self.in_flight >= self.max_in_flight:
            await refuse(
                send,
                503,
                f"The service is busy: {self.max_in_flight} requests are being received or "
                "answered. Retry in a moment.",
                {"Retry-After": "1"},
            )
            return
        self.in_flight += 1
        try:
            await self._receive_then_call(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _receive_then_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.timeout) as waited:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_bytes:
                    await refuse(send, 413, self.too_large)
                    return
                if not message.get("more_body", False):
                    break
        if waited.cancelled_caught:
            await refuse(
                send,
                408,
                f"The request body did not arrive within {self.timeout:g} "
                f"second{'' if self.timeout == 1 else 's'}; "
                "send it at once, or a smaller one.",
                {"Connection": "close"},
            )
            return
        body = b"".join(chunks)
        del chunks
        if self.inspect is not None:
            try:
                await self.inspect(scope, body)
            except ServingError as e:
                await refuse(send, e.status_code, str(e))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)
