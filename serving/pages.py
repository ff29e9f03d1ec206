"""The analyst's pages under `/app/`, rendered on the server: no script, no network.

So far: `/app/accounts/{account_id}`, one account's profile (`serving.accounts`) with its
charts (`serving.charts`). Templates ship inside the package (`serving/templates/`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from serving import accounts
from serving.charts import engagement_chart, followers_chart
from serving.dependencies import Protected, StateDep
from serving.errors import UnknownAccountError
from serving.profile_schemas import AccountProfile

__all__ = ["router"]

router = APIRouter(prefix="/app", include_in_schema=False, dependencies=Protected)
TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


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
    context = {**await run_in_threadpool(_page, profile), "root": root}
    return TEMPLATES.TemplateResponse(request, "account.html", context)
