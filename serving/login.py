"""Signing a browser in and out when `INFLUENCE_API_KEY` is set: `/app/login`, `/app/logout`.

Signing out is a POST (the header's "Sign out" button, or the one-button page that a GET
of `/app/logout` shows), from this service's own pages only.

Both paths are open (`serving.middleware.ApiKeyGate` lets them through without the
key); the login form's body is bounded to `FORM_BYTES` and does not take one of the
API's bodies in flight (`serving.middleware.BoundedBody`). A right key sets the
`serving.session.COOKIE` cookie and sends the browser back to the page it asked for;
a wrong one shows the form again. Without a key set there is nothing to sign in to,
and both send the browser on to the pages.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.middleware import ApiKeyGate, refused_page
from serving.pages import TEMPLATES
from serving.session import (
    COOKIE,
    LOGIN,
    LOGOUT,
    cookie_of,
    safe_next,
    same_origin,
    session_value,
)

__all__ = ["FORM_BYTES", "NOT_THE_FORM", "WRONG_KEY", "router"]

router = APIRouter(include_in_schema=False)
FORM_BYTES = 4096
"""The most a login form's body may hold: a key and a page address, urlencoded."""
FORM_FIELDS = 8
"""The most fields a login form's body may hold: it has two."""
WRONG_KEY = "That key is not the service's API key."
NOT_THE_FORM = "That was not this page's form: type the key below and sign in."


def _key(request: Request) -> bytes | None:
    secret = request.app.state.settings.api_key
    return secret.get_secret_value().encode("utf-8") if secret is not None else None


def _form(request: Request, next_page: str, message: str | None, status: int) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    context = {"root": root, "next": next_page, "message": message, "login": f"{root}{LOGIN}"}
    return TEMPLATES.TemplateResponse(request, "login.html", context, status_code=status)


@router.api_route(LOGIN, methods=["GET", "HEAD"], response_class=HTMLResponse)
async def login_form(
    request: Request, next_page: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """The form for the key; a browser already signed in (or a service without a key)
    goes straight on to `next`."""
    root = request.scope.get("root_path", "")
    target = safe_next(next_page, root)
    key = _key(request)
    if key is None or hmac.compare_digest(
        cookie_of(request.scope["headers"]), session_value(key).encode()
    ):
        return RedirectResponse(target, status_code=303)
    return _form(request, target, None, 200)


@router.post(LOGIN, response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the form's key against the service's in constant time: right, set the
    session cookie and 303 to `next` (one of this app's pages, else `/app/`); wrong,
    the form again with `WRONG_KEY` (401)."""
    root = request.scope.get("root_path", "")
    # A browser's form is ASCII (percent-encoded UTF-8); anything else is a wrong key.
    try:
        fields = parse_qs(
            (await request.body()).decode("ascii", errors="replace"),
            encoding="utf-8",
            errors="replace",
            max_num_fields=FORM_FIELDS,
        )
    except ValueError:  # more fields than the form has: not this page's form
        return _form(request, f"{root}/app/", NOT_THE_FORM, 400)
    target = safe_next(fields.get("next", [""])[0], root)
    key = _key(request)
    if key is None:
        return RedirectResponse(target, status_code=303)
    sent = fields.get("key", [""])[0].encode("utf-8")
    if not hmac.compare_digest(sent, key):
        return _form(request, target, WRONG_KEY, 401)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        COOKIE,
        session_value(key),
        path="/",
        secure=request.scope.get("scheme") == "https",
        httponly=True,
        samesite="lax",
    )
    return answer


@router.api_route(LOGOUT, methods=["GET", "HEAD"], response_class=HTMLResponse)
async def logout_form(request: Request) -> HTMLResponse:
    """A page with one button that signs out: a GET changes nothing, as no GET here does
    (a link followed, a page prefetched, must not sign anyone out)."""
    root = request.scope.get("root_path", "")
    context = {"root": root, "logout": f"{root}{LOGOUT}"}
    return TEMPLATES.TemplateResponse(request, "logout.html", context)


@router.post(LOGOUT)
async def logout(request: Request) -> Response:
    """Forget the session cookie in this browser and show the sign-in form; from another
    page than this service's (another port of this host, say), a 403 page and nothing
    forgotten."""
    root = request.scope.get("root_path", "")
    if not same_origin(request.scope):
        return HTMLResponse(refused_page(ApiKeyGate.ELSEWHERE, root), status_code=403)
    answer = RedirectResponse(f"{root}{LOGIN}", status_code=303)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return answer
