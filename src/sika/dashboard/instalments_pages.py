"""The instalments page: the newest plans with their instalments and states, and the
overdue list operators chase (``sika.instalments``)."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.routing import APIRouter

from sika.core import clock
from sika.dashboard.views import CurrentView, reading, render
from sika.instalments import service as instalments_service

router = APIRouter(include_in_schema=False)


@router.get("/instalments", name="instalments")
async def instalments(request: Request, view: CurrentView) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        overview = await instalments_service.operator_overview(session)
    return render(
        request,
        "instalments.html",
        operator=view.operator,
        view=view,
        page="instalments",
        now=now,
        overview=overview,
        shown_limit=instalments_service.OVERVIEW_SHOWN,
    )
