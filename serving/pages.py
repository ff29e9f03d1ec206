"""The analyst's pages under `/app/`, rendered on the server: no script, no network.

So far: `/app/` (a home page: vet an account, the model, the API; the campaign planner
will take its place), `/app/accounts/{account_id}` (one account's profile, `serving.accounts`,
with its charts, `serving.charts`), `/app/model` (what the served model bought against
the follower count and what its project's latest backtest found, `serving.model_page`) and
`/app/model/backtest` (that backtest's whole report, `serving.backtest`). `/` redirects to
`/app/`. With an API key set, a browser signs in at `/app/login` first (`serving.login`).
Templates ship inside the package (`serving/templates/`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from serving import accounts
from serving.backtest import REPORT_PAGE, REPORT_POLICY
from serving.charts import engagement_chart, followers_chart
from serving.dependencies import BacktestDep, Protected, StateDep
from serving.errors import UnknownAccountError
from serving.model_page import FAMILIES, backtest_page, model_page
from serving.profile_schemas import AccountProfile
from serving.routes import model_info
from serving.session import COOKIE

__all__ = ["TEMPLATES", "root_router", "router"]

router = APIRouter(prefix="/app", include_in_schema=False, dependencies=Protected)
root_router = APIRouter(include_in_schema=False)
"""`/`, which sends a browser to the pages."""


def _signed_in(request: Request) -> dict[str, object]:
    """Every page's header offers to sign out when the browser carries a session cookie."""
    return {"signed_in": COOKIE in request.cookies}


TEMPLATES = Jinja2Templates(
    directory=Path(__file__).with_name("templates"), context_processors=[_signed_in]
)


def _code(text: str) -> Markup:
    """`text`, escaped, with each `command` in backticks set as code (the notes' commands)."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


TEMPLATES.env.filters["code"] = _code


def _page(profile: AccountProfile) -> dict[str, object]:
    return {
        "p": profile,
        "charts": {"followers": followers_chart(profile), "engagement": engagement_chart(profile)},
    }


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def account_page(request: Request, account_id: str, state: StateDep) -> HTMLResponse:
    """One known account's profile as a page: flags first, then its charts and numbers."""
    root = request.scope.get("root_path", "")
    try:
        profile = await run_in_threadpool(accounts.profile, state, account_id)
    except UnknownAccountError as e:
        context = {"message": str(e), "root": root}
        return TEMPLATES.TemplateResponse(request, "not_found.html", context, status_code=404)
    context = {**await run_in_threadpool(_page, profile), "root": root, "per": state.unit.per()}
    return TEMPLATES.TemplateResponse(request, "account.html", context)


@root_router.get("/")
async def root(request: Request) -> RedirectResponse:
    """A browser opening the service lands on its pages."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/app/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, state: StateDep) -> HTMLResponse:
    """Where an analyst starts: vet an account, read about the model, or use the API."""
    example = next(iter(state.posts_of), "")
    context = {"root": request.scope.get("root_path", ""), "version": state.version}
    return TEMPLATES.TemplateResponse(request, "home.html", {**context, "example": example})


@router.get("/accounts", response_class=HTMLResponse)
async def find_account(request: Request, account_id: str) -> RedirectResponse:
    """The home page's form: on to that account's page."""
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}/app/accounts/{quote(account_id.strip(), safe='')}", 303)


@router.get("/model", response_class=HTMLResponse)
async def model(request: Request, state: StateDep, backtest: BacktestDep) -> HTMLResponse:
    """The served model in words and numbers: version, data, what it bought against the
    follower count per outcome, its prices, what it reads, and the latest backtest."""
    info = await model_info(state, backtest)
    meta = state.manifest
    root = request.scope.get("root_path", "")
    context = {
        "root": root,
        "m": info,
        "per": state.unit.per(),
        "families": [(f, FAMILIES.get(f, "")) for f in info.feature_families],
        **model_page(
            meta.get("metrics", {}), list(state.targets), meta.get("price"), state.unit.per()
        ),
        "backtest": backtest_page(backtest, state.backtests),
        "report": f"{root}{REPORT_PAGE}",
    }
    return TEMPLATES.TemplateResponse(request, "model.html", context)


@router.get("/model/backtest", response_class=HTMLResponse)
async def backtest_report(request: Request, backtest: BacktestDep) -> Response:
    """The latest backtest's whole report (its run's report.html, byte for byte); a 404
    page saying how to make one when there is none."""
    if backtest.report is None:
        context = {"message": backtest.note, "root": request.scope.get("root_path", "")}
        return TEMPLATES.TemplateResponse(request, "not_found.html", context, status_code=404)
    headers = {"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(backtest.report.html, headers=headers)
