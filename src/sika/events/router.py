"""Domain events (``collection.succeeded``, ``payout.failed``…), newest first
like every list, or oldest first (``order=oldest``) as a platform or an
outgoing-webhook sender reads an outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sika.api.deps import Session, authorize
from sika.api.pagination import OrderedPage, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core.context import Actor
from sika.events import schemas
from sika.events import service as events_service

router = APIRouter(prefix="/events", tags=["events"], route_class=UnitOfWorkRoute)
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]


@router.get("", response_model=schemas.EventPage)
async def list_events(
    session: Session,
    actor: Reader,
    page: OrderedPage,
    type: str | None = None,
    entity_id: str | None = None,
    party_id: str | None = None,
) -> schemas.EventPage:
    events = await events_service.list_events(session, type=type, entity_id=entity_id, party_id=party_id, page=page)
    return schemas.EventPage(
        data=[schemas.EventOut.model_validate(e) for e in events],
        next_cursor=next_cursor(events, page.limit),
    )
