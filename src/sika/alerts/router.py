"""Alerts over HTTP: operators (``support``) list them and acknowledge them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.alerts import schemas
from sika.alerts import service as alerts_service
from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.audit.schemas import ActionReason
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=UnitOfWorkRoute)
support = authorize(Scope.support)
Support = Annotated[Actor, Depends(support)]
SupportClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(support))]


@router.get("", response_model=schemas.AlertPage)
async def list_alerts(
    session: Session,
    actor: Support,
    page: Page,
    kind: str | None = None,
    is_open: Annotated[bool | None, Query(alias="open")] = None,
) -> schemas.AlertPage:
    alerts = await alerts_service.list_alerts(session, kind=kind, is_open=is_open, page=page)
    return schemas.AlertPage(
        data=[schemas.AlertOut.model_validate(a) for a in alerts], next_cursor=next_cursor(alerts, page.limit)
    )


@router.post("/{alert_id}/acknowledge", response_model=schemas.AlertOut)
async def acknowledge_alert(
    alert_id: str, session: Session, actor: Support, claim: SupportClaim, body: ActionReason | None = None
) -> schemas.AlertOut:
    """Mark the alert seen. ``reason`` (optional) is kept in the audit row."""
    alert = await alerts_service.acknowledge(
        session, alert_id=alert_id, actor=actor, now=clock.now(), reason=body.reason if body else None
    )
    return schemas.AlertOut.model_validate(alert)
