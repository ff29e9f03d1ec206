"""The browser's sign-in: the session cookie and which requests are a person at a page.

A browser sends no X-API-Key header, so with a key set an analyst signs in once at
`/app/login` (`serving.login`) and the browser then carries `COOKIE`, whose value is
`session_value(key)`: the hex HMAC-SHA256 of a fixed label under the key. The key
itself never reaches the browser, and the cookie is worth nothing once the key
changes. `serving.middleware.ApiKeyGate` accepts the cookie wherever it accepts the
header. Plain functions of bytes and strings, so the gate checks them from the
headers alone, before the body.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlsplit

from starlette.types import Scope

__all__ = [
    "COOKIE",
    "LOGIN",
    "LOGOUT",
    "cookie_of",
    "login_location",
    "route_path",
    "safe_next",
    "same_origin",
    "session_value",
]

COOKIE = "influence_session"
LOGIN = "/app/login"
LOGOUT = "/app/logout"
LABEL = b"influence browser session v1"
"""What the key signs; changing it signs every browser out."""
DOC_PAGES = frozenset({"/docs", "/redoc"})
"""Pages outside /app/ that a browser opens and may be sent back to after signing in."""
PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""What a URL path holds as is (RFC 3986 pchar and "/"); the rest is percent-encoded."""


def session_value(key: bytes) -> str:
    """The cookie's value for `key` (its UTF-8 bytes): 64 hex digits, the same for every
    browser, from which the key cannot be recovered."""
    return hmac.new(key, LABEL, hashlib.sha256).hexdigest()


def cookie_of(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The raw bytes of the `COOKIE` cookie in a request's headers, b"" when absent
    (every Cookie header is read: HTTP/2 may split them)."""
    name = COOKIE.encode()
    found = b""
    for header, value in headers:
        if header != b"cookie":
            continue
        for pair in value.split(b";"):
            key, _, sent = pair.strip().partition(b"=")
            if key == name:
                found = sent.strip(b'"')
    return found


def route_path(scope: Scope) -> str:
    """The request's path within the app: without the root path a proxy mounts it under,
    as the router matches it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _navigable(path: str) -> str | None:
    """Where a person who opened `path` goes after signing in, or None if `path` is not
    a page (an API path, an asset)."""
    if path in ("/", "/app"):
        return "/app/"
    if path.startswith("/app/") or path in DOC_PAGES:
        return path
    return None


def login_location(scope: Scope) -> str | None:
    """For a browser opening a page without the key (a GET or HEAD of `/`, `/app/...`,
    `/docs` or `/redoc` that accepts text/html), the sign-in page's address, with the
    page to come back to as `next`; None for any other request, which is refused as
    the API refuses (curl and API clients send `Accept: */*` or JSON, not text/html)."""
    if scope["method"] not in ("GET", "HEAD"):
        return None
    target = _navigable(route_path(scope))
    if target is None:
        return None
    accept = b",".join(v for k, v in scope["headers"] if k == b"accept").lower()
    if b"text/html" not in accept:
        return None
    root: str = scope.get("root_path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    # The path as the browser sent it, percent-encoded again, so `next` is plain ASCII.
    back = f"{root}{quote(target, safe=PATH_SAFE)}" + (f"?{query}" if query else "")
    return f"{root}{LOGIN}?next={quote(back, safe='/')}"


def safe_next(next_page: str | None, root: str) -> str:
    """Where sign-in sends the browser: `next_page` if it is one of this app's pages
    (under `{root}/app/`, or `{root}/docs`, `{root}/redoc`, with a query or not),
    else `{root}/app/`. Anything else, another host (`//evil.example`, `https://...`),
    a backslash browsers read as a slash, a control character, a character that is not
    percent-encoded ASCII, is refused, so the sign-in page cannot be used to send people
    elsewhere."""
    home = f"{root}/app/"
    if not next_page or not next_page.isascii() or not next_page.isprintable():
        return home
    if "\\" in next_page or not next_page.startswith(f"{root}/"):
        return home
    path = next_page[len(root) :].split("?", 1)[0]
    # A browser resolves `.` and `..` (and their %2e spellings) before it asks, so
    # `/app/../metrics` is `/metrics` and `/app/..//evil.example` another host.
    dots = path.lower().replace("%2e", ".").split("/")
    if "." in dots or ".." in dots:
        return home
    return next_page if path.startswith("/app/") or path in DOC_PAGES else home


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str) -> tuple[str, str, int] | None:
    """`scheme://host` as (scheme, host name, port), the default port filled in; None if
    it is not an address (no host, a bad port)."""
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None or parts.path or parts.query or parts.username:
        return None
    return parts.scheme, parts.hostname, port


def same_origin(scope: Scope) -> bool:
    """Whether a browser's request came from this service's own pages, from its headers
    alone: `Sec-Fetch-Site: same-origin` when the browser sends that header (every current
    one does, and no page can forge it); else an `Origin` header naming the request's own
    scheme, host and port (the Host header, the scheme the server saw). Neither, or
    anything else (another port of the same host is another origin, though the same
    site), is False."""
    site: bytes | None = None
    origin: bytes | None = None
    host: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"sec-fetch-site":
            site = value
        elif name == b"origin":
            origin = value
        elif name == b"host":
            host = value
    if site is not None:
        return site == b"same-origin"
    if origin is None or host is None:
        return False
    scheme, _, rest = origin.decode("latin-1").partition("://")
    sent = _origin(scheme, rest)
    own: str = scope.get("scheme", "http")
    return sent is not None and sent == _origin(own, host.decode("latin-1"))
