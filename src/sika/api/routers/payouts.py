"""Payouts: money out of a wallet to mobile money.

Starting one holds the amount and calls the provider, so it is served by
``PhasedRoute``. Paying out takes a platform key; a party token may read its
own payouts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import CurrentPhases, CurrentSettings, Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import decode_int_cursor, next_cursor
from sika.api.providers import collection_router
from sika.api.unit_of_work import PhasedRoute, UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.core.paging import MAX_LIMIT
from sika.payments import schemas
from sika.payments import service as payments_service
from sika.providers import failover

router = APIRouter(prefix="/payouts", tags=["payouts"], route_class=UnitOfWorkRoute)
phased_router = APIRouter(prefix="/payouts", tags=["payouts"], route_class=PhasedRoute)
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]
Providers = Annotated[failover.CollectionRouter, Depends(collection_router)]


@phased_router.post("", status_code=201, response_model=schemas.PayoutOut)
async def create_payout(
    body: schemas.PayoutCreate,
    phases: CurrentPhases,
    settings: CurrentSettings,
    actor: Platform,
    claim: PlatformClaim,
    providers: Providers,
) -> schemas.PayoutOut:
    """Hold the amount on the wallet and start the transfer; the answer shows
    where the provider left it (``processing`` until it confirms)."""
    payout = await payments_service.create_payout(
        phases,
        body=body,
        providers=providers,
        payout_providers=settings.PAYOUT_PROVIDERS,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return payments_service.payout_out(payout)


@router.get("", response_model=schemas.PayoutPage)
async def list_payouts(
    session: Session,
    actor: ReaderOrParty,
    party_id: str | None = None,
    wallet_id: str | None = None,
    status: schemas.PayoutStatus | None = None,
    idempotency_key: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> schemas.PayoutPage:
    payouts = await payments_service.list_payouts(
        session,
        party_id=party_id,
        wallet_id=wallet_id,
        status=status,
        idempotency_key=idempotency_key,
        after_seq=decode_int_cursor(cursor),
        limit=limit,
        actor=actor,
    )
    return schemas.PayoutPage(
        data=[payments_service.payout_out(p) for p in payouts],
        next_cursor=next_cursor(payouts, limit),
    )


@router.get("/{payout_id}", response_model=schemas.PayoutOut)
async def get_payout(payout_id: str, session: Session, actor: ReaderOrParty) -> schemas.PayoutOut:
    payout = await payments_service.get_payout(session, payout_id=payout_id, actor=actor)
    return payments_service.payout_out(payout)
