"""/docs and /redoc, served with the app's own copies of Swagger UI and ReDoc.

FastAPI's pages load both from a CDN, so without internet they are blank. This is
FastAPI's recipe "Self-hosting JavaScript and CSS for docs" (how-to/custom-docs-ui-assets):
the automatic pages are turned off (`docs_url=None, redoc_url=None`) and these routes
render the same HTML, pointed at files under `/docs/assets/`. The files are the dist
files shipped by the `fastapi-offline` package (MIT; Swagger UI 5, ReDoc 2, FastAPI's
favicon), installed with influence, so no JS build step and nothing vendored here.

Nothing on either page leaves the app: the favicon is the app's own, ReDoc is told
not to link Google Fonts (it falls back to the system's fonts), Swagger UI's
online validator badge, an image fetched from swagger.io, is turned off, and the
one image ReDoc's bundle fetches by itself (Redocly's logo beside "API docs by
Redocly", from its CDN, with no option to turn it off) is a blank inline image in
the copy of the bundle served here.

Like every route but /health and signing in, the pages and their assets answer only
with the API key when one is set (`serving.middleware.ApiKeyGate` sees every path).
A browser opening /docs or /redoc without it is sent to sign in at `/app/login` and
back; the session cookie then carries the key for the page, its assets, the schema
and Swagger UI's "Try it out" (same-origin requests carry it), so the X-API-Key
field each operation documents can be left empty. The schema declares no security
scheme, so Swagger UI shows no "Authorize" button: the cookie does its work.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "add_docs"]

ASSETS = "/docs/assets"
"""Where Swagger UI's and ReDoc's files are served."""

SWAGGER_UI_PARAMETERS = {
    # The default fetches a badge from validator.swagger.io for every schema not on localhost.
    "validatorUrl": None,
}


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
"""A transparent 1x1 GIF: the logo's place, fetched from nowhere."""


@cache
def _redoc_bundle() -> bytes:
    """ReDoc's standalone bundle as fastapi-offline ships it, but for Redocly's logo,
    which becomes `BLANK` (read once, about 1 MB)."""
    bundle = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO.encode(), BLANK.encode())


def add_docs(app: FastAPI) -> None:
    """Serve `/docs` (Swagger UI) and `/redoc` (ReDoc) on `app`, assets included.

    `app` must be built with `docs_url=None, redoc_url=None`, so that FastAPI does not
    add its CDN-loading pages first. URLs start with the request's root path, so that
    the pages also work behind a proxy that mounts the app under a prefix.
    """

    # Before the mount, which would otherwise answer this path with the file as shipped.
    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript; charset=utf-8")

    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.api_route("/redoc", methods=["GET", "HEAD"], include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
