"""The audit log over HTTP: ``support`` reads it, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import Session, authorize
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.audit import schemas
from sika.audit import service as audit_service
from sika.auth.scopes import Scope
from sika.core.context import Actor

router = APIRouter(prefix="/audit-events", tags=["audit"], route_class=UnitOfWorkRoute)


@router.get("", response_model=schemas.AuditEventPage)
async def list_audit_events(
    session: Session,
    actor: Annotated[Actor, Depends(authorize(Scope.support))],
    page: Page,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: Annotated[str | None, Query(alias="actor")] = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.AuditEventPage:
    events = await audit_service.list_events(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor_id,
        action=action,
        since=since,
        until=until,
        page=page,
    )
    return schemas.AuditEventPage(
        data=[schemas.AuditEventOut.model_validate(e) for e in events], next_cursor=next_cursor(events, page.limit)
    )
