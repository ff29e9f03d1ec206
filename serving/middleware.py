"""The service's ASGI middleware: the API key, bounded bodies and metrics, before any route.

Plain ASGI rather than Starlette's `@app.middleware("http")`, which wraps every
request in extra tasks and streams that cost more than scoring one candidate.
Outermost first: `Measure` (counts every answer, refusals too), `NoFraming` (no other
page may frame an HTML answer), CORS, `ApiKeyGate`
(a request without the key, in its header or a signed-in browser's cookie, is refused
or sent to sign in before a byte of its body is read), then `BoundedBody` (size,
upload time, bodies in flight, shape).
"""

from __future__ import annotations

import hmac
import html
import json
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import anyio
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.errors import ServingError
from serving.session import cookie_of, login_location, route_path, same_origin, session_value

__all__ = [
    "ApiKeyGate",
    "BoundedBody",
    "Measure",
    "NoFraming",
    "refuse",
    "refuse_request",
    "refused_page",
]

Message = MutableMapping[str, Any]
Inspect = Callable[[Scope, bytes], Awaitable[None]]
SAFE = ("GET", "HEAD", "OPTIONS")
"""Methods that change nothing here, which a signed-in browser may send from anywhere."""


async def refuse(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """Answer `{"detail": ...}` with `status`, as every refusal of the API is shaped
    (a 422 also carries `errors`, empty here, as its documented schema says)."""
    content: dict[str, object] = {"detail": detail}
    if status == 422:
        content["errors"] = []
    await _answer(send, status, json.dumps(content).encode(), "application/json", headers)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a whole answer from the middleware, before (or instead of) the app."""
    raw = [] if content_type is None else [(b"content-type", content_type.encode())]
    raw.append((b"content-length", str(len(body)).encode()))
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _page_form(scope: Scope) -> bool:
    """Whether a refused request is a browser's form on the pages (the planner's upload, the
    sign-in): a POST under `/app/` whose Accept names text/html, which should see a page."""
    accept = b",".join(v for k, v in scope["headers"] if k == b"accept").lower()
    return route_path(scope).startswith("/app/") and b"text/html" in accept


def refused_page(detail: str, root: str) -> str:
    """`detail` as a small HTML page with a way back to the planner."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>influence</title>'
        f"</head><body><h1>Not done</h1><p>{html.escape(detail)}</p>"
        f'<p><a href="{html.escape(root)}/app/">Back to the planner</a></p></body></html>\n'
    )


async def refuse_request(
    scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """`refuse`; or, for a browser's form on the pages (`_page_form`), the same sentence as
    a small HTML page with a way back to the planner, where the API's JSON would be a dump."""
    if _page_form(scope):
        page = refused_page(detail, scope.get("root_path", "")).encode()
        await _answer(send, status, page, "text/html; charset=utf-8", headers)
    else:
        await refuse(send, status, detail, headers)


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


class NoFraming:
    """Forbid other pages to frame this service's HTML answers (clickjacking: a page
    elsewhere showing the planner in an invisible frame over its own buttons).

    Every text/html answer (the pages, the sign-in, the docs, refusals as pages) gets
    `Content-Security-Policy: frame-ancestors 'none'` and `X-Frame-Options: DENY` (for
    browsers that predate the policy). An answer with a policy of its own (the backtest
    report's) keeps it: that policy says `frame-ancestors` itself. Swagger UI and ReDoc
    frame nothing of this service, so the docs work as before.
    """

    HEADERS = (
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                    headers += [(k, v) for k, v in self.HEADERS if k not in names]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_framed)


class ApiKeyGate:
    """When a key is set, refuse any request without it but to `open_paths`.

    The key comes in one of two ways, both checked from the headers alone, in constant
    time (`hmac.compare_digest`), so the body of a refused request is never read:

    - the X-API-Key header, whose raw bytes are compared with the key's UTF-8 bytes
      (API clients, curl, scripts);
    - the `influence_session` cookie a browser gets by signing in at `/app/login`
      (`serving.login`), compared with `serving.session.session_value(key)`: the hex
      HMAC-SHA256 of a fixed label under the key, so the key itself is never stored in
      the browser. It is `HttpOnly` (no script reads it), `Path=/`, `Secure` when the
      sign-in came over https, and `SameSite=Lax`: a browser sends it on requests from
      this site and on following a link here from elsewhere, never on another site's
      form post, fetch or frame, so a cross-site form posting to `/rank` or
      `/admin/reload` arrives without it and is refused. (`Strict` would also drop it
      on a link followed from a mail or a chat, sending a signed-in analyst to the
      form; no GET of this service changes anything, so `Lax` gives nothing away.)

    A site is not an origin: a page on another port of the same host (an MLflow UI,
    a notebook on 127.0.0.1:9999) is the same site, and its form posts do carry the
    cookie. So a request that only the cookie vouches for, with a method that may
    change something (not GET, HEAD or OPTIONS), must also come from this origin
    (`serving.session.same_origin`: `Sec-Fetch-Site`, else `Origin`), or it is refused
    (403, `ELSEWHERE`; a page for a browser's form under `/app/`). The header needs no
    such check: no other page can make a browser send it.

    Without either, a browser opening a page (a GET of `/`, `/app/...`, `/docs` or
    `/redoc` whose Accept names text/html) is sent (303) to `/app/login?next=<page>`;
    every other request is refused with the JSON 401 (`MESSAGE`), as API clients
    always were. CORS preflights (OPTIONS) pass: browsers send them without custom
    headers, and the CORS middleware outside answers them.
    """

    MESSAGE = "Missing or wrong API key: send it in the X-API-Key header."
    ELSEWHERE = (
        "Refused: a signed-in browser may change things only from this service's own pages, "
        "and this request came from another page or did not say where from."
    )

    def __init__(self, app: ASGIApp, key: str | None, open_paths: frozenset[str]) -> None:
        self.app, self.open_paths = app, open_paths
        self.key = key.encode("utf-8") if key is not None else None
        self.session = session_value(self.key).encode() if self.key is not None else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is None
            or scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or route_path(scope) in self.open_paths
        ):
            await self.app(scope, receive, send)
            return
        sent = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                sent = value
        # Both compared whatever the first gives, so the time says nothing of either.
        by_header = hmac.compare_digest(sent, self.key)
        by_cookie = hmac.compare_digest(cookie_of(scope["headers"]), self.session)
        if by_cookie and not by_header and scope["method"] not in SAFE and not same_origin(scope):
            await refuse_request(scope, send, 403, self.ELSEWHERE)
            return
        if by_header or by_cookie:
            await self.app(scope, receive, send)
            return
        location = login_location(scope)
        if location is None:
            await refuse(send, 401, self.MESSAGE)
            return
        await _answer(send, 303, b"", None, {"location": location})


class BoundedBody:
    """Receive each request body whole, within bounds, before the app sees it.

    Refuses with the reason: over `max_bytes` (413, at once when Content-Length
    says so); not all sent within `timeout` seconds (408); more than `max_in_flight`
    bodies being received or answered (503 with Retry-After). Then `inspect` (the
    body's shape check) may refuse it with a ServingError's status and message.
    Bodies held at once are bounded, so memory is at most `max_in_flight` times
    `max_bytes` plus what their scoring takes.

    `small_paths` maps paths anyone may post to without the key (the login form), and
    the operator's reload, to their own, small, limit: their bodies take no place in
    flight, so that a client without the key, trickling such bodies, cannot make the API
    answer 503 to those with it, and so that a service busy answering can be reloaded.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_in_flight: int,
        timeout: float,
        inspect: Inspect | None = None,
        small_paths: Mapping[str, int] | None = None,
    ) -> None:
        self.app, self.max_bytes, self.timeout, self.inspect = app, max_bytes, timeout, inspect
        self.max_in_flight = max_in_flight
        self.small_paths = dict(small_paths or {})
        self.in_flight = 0

    def too_large(self, limit: int) -> str:
        """What a client whose body is over `limit` bytes is told."""
        if limit != self.max_bytes:
            return f"The request body is larger than the limit of {limit} bytes for this path."
        return (
            f"The request body is larger than the limit of {limit} bytes; "
            "send fewer candidates or shorter histories."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE:
            await self.app(scope, receive, send)
            return
        small = self.small_paths.get(route_path(scope))
        limit = self.max_bytes if small is None else small
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse_request(scope, send, 413, self.too_large(limit))
            return
        if small is not None:
            await self._receive_then_call(scope, receive, send, small)
            return
        if self.in_flight >= self.max_in_flight:
            await refuse_request(
                scope,
                send,
                503,
                f"The service is busy: {self.max_in_flight} requests are being received or "
                "answered. Retry in a moment.",
                {"Retry-After": "1"},
            )
            return
        self.in_flight += 1
        try:
            await self._receive_then_call(scope, receive, send, self.max_bytes)
        finally:
            self.in_flight -= 1

    async def _receive_then_call(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.timeout) as waited:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > limit:
                    await refuse_request(scope, send, 413, self.too_large(limit))
                    return
                if not message.get("more_body", False):
                    break
        if waited.cancelled_caught:
            await refuse_request(
                scope,
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
                await refuse_request(scope, send, e.status_code, str(e))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)
