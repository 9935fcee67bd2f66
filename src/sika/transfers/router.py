"""Transfers over HTTP: the sender's party token or the platform's key sends
(Idempotency-Key required: money moves); both sides' tokens, the platform's,
support and read keys read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.transfers import schemas
from sika.transfers import service as transfers_service

router = APIRouter(prefix="/transfers", tags=["transfers"], route_class=UnitOfWorkRoute)
sender = authorize(Scope.platform, allow_party=True)
Sender = Annotated[Actor, Depends(sender)]
SenderClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(sender, required=True))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


@router.post("", status_code=201, response_model=schemas.TransferOut)
async def create_party_transfer(
    body: schemas.TransferCreate, session: Session, actor: Sender, claim: SenderClaim
) -> schemas.TransferOut:
    return transfers_service.out(await transfers_service.send(session, body=body, actor=actor, now=clock.now()))


@router.get("", response_model=schemas.TransferPage)
async def list_transfers(
    session: Session,
    actor: ReaderOrParty,
    page: Page,
    party_id: str | None = None,
    wallet_id: str | None = None,
) -> schemas.TransferPage:
    """Newest first; ``party_id`` or ``wallet_id`` keeps those it sent or received."""
    transfers = await transfers_service.list_transfers(
        session, party_id=party_id, wallet_id=wallet_id, actor=actor, page=page
    )
    return schemas.TransferPage(
        data=[transfers_service.out(t) for t in transfers], next_cursor=next_cursor(transfers, page.limit)
    )


@router.get("/{party_transfer_id}", response_model=schemas.TransferOut)
async def get_party_transfer(party_transfer_id: str, session: Session, actor: ReaderOrParty) -> schemas.TransferOut:
    return transfers_service.out(
        await transfers_service.get_transfer(session, transfer_id=party_transfer_id, actor=actor)
    )
