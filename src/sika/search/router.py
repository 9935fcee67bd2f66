"""Search over HTTP: ``support`` (or ``admin``) finds any object by what a customer
or an integrator knows. A support key bound to a platform finds that platform's
objects only (its session is bound by ``authorize``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import Session, authorize
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock, money
from sika.core.context import Actor
from sika.search import schemas
from sika.search import service as search_service

router = APIRouter(prefix="/search", tags=["search"], route_class=UnitOfWorkRoute)


@router.get("", response_model=schemas.SearchOut)
async def search(
    session: Session,
    actor: Annotated[Actor, Depends(authorize(Scope.support))],
    q: Annotated[
        str | None,
        Query(
            max_length=search_service.MAX_QUERY_LENGTH,
            description="An id Sika issued, a phone number (or its last digits), an email, "
            "a provider's reference or an Idempotency-Key.",
        ),
    ] = None,
    amount_minor: Annotated[int | None, Query(gt=0, le=money.MAX_AMOUNT_MINOR)] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.SearchOut:
    """Parties, wallets, collections, payouts, holds and webhook events matching ``q``
    and the amount and date window, newest first, a bounded number of each.
    Send ``q``, ``amount_minor`` or both."""
    within = search_service.window(amount_minor=amount_minor, currency=currency, since=since, until=until)
    found = await search_service.search(session, query=q, within=within, actor=actor, now=clock.now())
    return schemas.SearchOut.model_validate(found)
