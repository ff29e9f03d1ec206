"""The analyst's pages under `/app/`, rendered on the server: no script, no network.

`/app/` plans a campaign (a form: brief, budget, objective, an optional CSV shortlist and
follower range) and links to vetting an account, the model and the API; its form posts to
`/app/plan`, which answers with the model's portfolio beside the follower rule's
(`serving.rank.rank_candidates`, shaped by `serving.discover.answer`, shown by
`serving.planner_page`), a "Download CSV" of exactly what `influence rank` writes for the
same inputs (`serving.portfolio_csv`, as a `data:` link: nothing to fetch) and the decision
logged as `/rank`'s are. `/app/accounts/{account_id}` is one account's profile
(`serving.accounts`, its charts by `serving.charts`), `/app/model` what the served model
bought against the follower count and what its project's latest backtest found
(`serving.model_page`), and `/app/model/backtest` that backtest's whole report
(`serving.backtest`). `/` redirects to `/app/`.
With an API key set, a browser signs in at `/app/login` first (`serving.login`).
Templates ship inside the package (`serving/templates/`).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.datastructures import UploadFile

from serving import accounts
from serving.backtest import REPORT_PAGE, REPORT_POLICY
from serving.charts import engagement_chart, followers_chart
from serving.dependencies import BacktestDep, Protected, SettingsDep, StateDep
from serving.discover import answer
from serving.errors import DiscoveryError, ObjectiveError, ShortlistError, UnknownAccountError
from serving.examples import latest_campaign
from serving.model_page import FAMILIES, backtest_page, model_page
from serving.plan_schemas import DiscoverResponse
from serving.planner_page import OBJECTIVES, PlanForm, plan_view, read_form
from serving.portfolio_csv import portfolio_csv, summary, times_words
from serving.profile_schemas import AccountProfile
from serving.rank import rank_candidates
from serving.routes import logged, model_info
from serving.session import COOKIE
from serving.settings import ServingSettings
from serving.shortlist import read_shortlist
from serving.state import ServiceState

__all__ = ["PAGE_METHODS", "TEMPLATES", "root_router", "router"]

router = APIRouter(prefix="/app", include_in_schema=False, dependencies=Protected)
root_router = APIRouter(include_in_schema=False)
PAGE_METHODS = ["GET", "HEAD"]
"""A page answers HEAD as it answers GET (the same status and headers, no body: the
server drops it), as link checkers and `curl -I` expect; FastAPI's `get` alone
would answer 405."""
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


@router.api_route("/accounts/{account_id}", methods=PAGE_METHODS, response_class=HTMLResponse)
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


@root_router.api_route("/", methods=PAGE_METHODS)
async def root(request: Request) -> RedirectResponse:
    """A browser opening the service lands on its pages."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/app/", status_code=307)


PAGE_ROWS = 200
"""Chosen accounts the answer page shows, explained; the CSV has every candidate."""
FORM_FIELDS = 16
"""Fields a planner form may send: it has 7."""
FORM_PART_BYTES = 64 * 1024
"""The largest text field (the brief is at most 2,000 characters); the shortlist file is
bounded by the body limit (INFLUENCE_MAX_BODY_BYTES) and its rows by the candidate limit."""


def _home(
    request: Request, state: ServiceState, form: PlanForm | None = None, status: int = 200
) -> HTMLResponse:
    campaign = latest_campaign(state)
    values = form.values if form else {**campaign, "budget": "5000", "objective": "clicks"}
    context = {
        "root": request.scope.get("root_path", ""),
        "version": state.version,
        "example": next(iter(state.post_counts), ""),
        "values": values,
        "objectives": OBJECTIVES,
        "problems": form.problems if form else [],
    }
    return TEMPLATES.TemplateResponse(request, "home.html", context, status_code=status)


@router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
async def home(request: Request, state: StateDep) -> HTMLResponse:
    """Where an analyst starts: plan a campaign; or vet an account, read about the model,
    use the API."""
    return _home(request, state)


def _planned(
    state: ServiceState,
    settings: ServingSettings,
    form: PlanForm,
    shortlist: tuple[bytes, str] | None,
) -> tuple[DiscoverResponse, dict[str, Any], str]:
    """The planner's answer, the page's context and the candidates as the log keeps them."""
    assert form.campaign is not None
    assert form.budget is not None
    candidates = None
    if shortlist is not None:
        data, name = shortlist
        known, dayfirst = state.knows, settings.dayfirst
        candidates = read_shortlist(data, name, settings.max_candidates, known, dayfirst)
    ranked = rank_candidates(
        state,
        form.campaign,
        candidates,
        form.budget,
        form.objective,
        settings.max_history_posts,
        form.followers,
    )
    planned = answer(ranked, state.bundle, state.version, limit=PAGE_ROWS, explain=PAGE_ROWS)
    csv = base64.b64encode(portfolio_csv(ranked, list(state.targets))).decode("ascii")
    context = {
        "campaign": form.campaign,
        "summary": summary(ranked),
        "shortlist": None if shortlist is None else shortlist[1],
        "more": max(len(planned.portfolio.account_ids) - PAGE_ROWS, 0),
        "csv": csv,
        **plan_view(planned, ranked.target, times_words(ranked)),
    }
    if candidates is None:
        sent: object = {
            "budget": form.budget,
            "objective": form.objective,
            "min_followers": form.followers.low,
            "max_followers": form.followers.high,
        }
    else:
        sent = [
            {
                "account_id": c.account_id,
                "cost": c.cost,
                "posted_at": None if c.posted_at is None else c.posted_at.isoformat(),
            }
            for c in candidates
        ]
    return planned, context, json.dumps(sent)


@router.post("/plan", response_class=HTMLResponse)
async def plan(request: Request, state: StateDep, settings: SettingsDep) -> HTMLResponse:
    """The planner form's answer: the model's portfolio beside the follower rule's, each
    chosen account explained, and the CSV `influence rank` writes for the same inputs;
    problems with the form or the shortlist in plain sentences (422)."""
    # The uploaded file is spooled by Starlette; closed with the form once it is read.
    async with request.form(
        max_files=1, max_fields=FORM_FIELDS, max_part_size=FORM_PART_BYTES
    ) as fields:
        form = read_form({k: v for k, v in fields.items() if isinstance(v, str)})
        upload = fields.get("shortlist")
        shortlist = None
        if isinstance(upload, UploadFile) and upload.filename:
            shortlist = (await upload.read(), Path(upload.filename).name)
    if form.problems:
        return _home(request, state, form, 422)
    try:
        planned, context, sent = await run_in_threadpool(_planned, state, settings, form, shortlist)
    except ShortlistError as e:
        return _home(
            request, state, PlanForm(form.values, problems=[str(p) for p in e.problems]), 422
        )
    except (ObjectiveError, DiscoveryError) as e:
        return _home(request, state, PlanForm(form.values, problems=[str(e)]), 422)
    await logged(request, "app/plan", state, (json.dumps(form.campaign), sent), planned)
    root = request.scope.get("root_path", "")
    return TEMPLATES.TemplateResponse(request, "plan.html", {**context, "root": root})


@router.api_route("/accounts", methods=PAGE_METHODS, response_class=HTMLResponse)
async def find_account(request: Request, account_id: str) -> RedirectResponse:
    """The home page's form: on to that account's page."""
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}/app/accounts/{quote(account_id.strip(), safe='')}", 303)


@router.api_route("/model", methods=PAGE_METHODS, response_class=HTMLResponse)
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
        "backtest": backtest_page(backtest, state.backtests, state.unit),
        "report": f"{root}{REPORT_PAGE}",
    }
    return TEMPLATES.TemplateResponse(request, "model.html", context)


@router.api_route("/model/backtest", methods=PAGE_METHODS, response_class=HTMLResponse)
async def backtest_report(request: Request, backtest: BacktestDep) -> Response:
    """The latest backtest's whole report (its run's report.html, byte for byte); a 404
    page saying how to make one when there is none."""
    if backtest.report is None:
        context = {"message": backtest.note, "root": request.scope.get("root_path", "")}
        return TEMPLATES.TemplateResponse(request, "not_found.html", context, status_code=404)
    headers = {"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(backtest.report.html, headers=headers)
