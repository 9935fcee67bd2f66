"""Collections: money in from a customer's mobile money or card, credited to a wallet.

Starting a collection and submitting its OTP call a provider, so they are
served by ``PhasedRoute`` (no transaction is held across the call); reading
is an ordinary unit of work. A party token may collect into, and read, its
own wallets only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import CurrentPhases, Session, authorize
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

router = APIRouter(prefix="/collections", tags=["collections"], route_class=UnitOfWorkRoute)
phased_router = APIRouter(prefix="/collections", tags=["collections"], route_class=PhasedRoute)
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
PlatformOrPartyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]
Providers = Annotated[failover.CollectionRouter, Depends(collection_router)]


@phased_router.post("", status_code=201, response_model=schemas.CollectionOut)
async def create_collection(
    body: schemas.CollectionCreate,
    phases: CurrentPhases,
    actor: PlatformOrParty,
    claim: PlatformOrPartyClaim,
    providers: Providers,
) -> schemas.CollectionOut:
    """Start a collection. The answer shows where the provider left it: for
    ``action_required``, ``next_action`` says what the customer must do (enter
    an OTP, approve on the phone, open ``redirect_url``)."""
    collection = await payments_service.create_collection(
        phases,
        body=body,
        providers=providers,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return payments_service.collection_out(collection)


@phased_router.post("/{collection_id}/otp", response_model=schemas.CollectionOut)
async def submit_collection_otp(
    collection_id: str,
    body: schemas.OtpSubmit,
    phases: CurrentPhases,
    actor: PlatformOrParty,
    claim: PlatformOrPartyClaim,
    providers: Providers,
) -> schemas.CollectionOut:
    collection = await payments_service.submit_collection_otp(
        phases, collection_id=collection_id, otp=body.otp, providers=providers, actor=actor, clock=clock.now
    )
    return payments_service.collection_out(collection)


@router.get("", response_model=schemas.CollectionPage)
async def list_collections(
    session: Session,
    actor: ReaderOrParty,
    party_id: str | None = None,
    wallet_id: str | None = None,
    status: schemas.CollectionStatus | None = None,
    idempotency_key: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> schemas.CollectionPage:
    """Newest first. ``idempotency_key`` finds the collection one of your own
    requests created, should its answer have been lost."""
    collections = await payments_service.list_collections(
        session,
        party_id=party_id,
        wallet_id=wallet_id,
        status=status,
        idempotency_key=idempotency_key,
        after_seq=decode_int_cursor(cursor),
        limit=limit,
        actor=actor,
    )
    return schemas.CollectionPage(
        data=[payments_service.collection_out(c) for c in collections],
        next_cursor=next_cursor(collections, limit),
    )


@router.get("/{collection_id}", response_model=schemas.CollectionOut)
async def get_collection(collection_id: str, session: Session, actor: ReaderOrParty) -> schemas.CollectionOut:
    collection = await payments_service.get_collection(session, collection_id=collection_id, actor=actor)
    return payments_service.collection_out(collection)
