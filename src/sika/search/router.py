"""Search and timelines over HTTP: ``support`` (or ``admin``) finds any object by
what a customer or an integrator knows, and reads a collection's, a payout's, a
hold's, a wallet's or a party's story. A support key bound to a platform reaches that platform's objects only
(its session is bound by ``authorize``)."""

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
timeline_router = APIRouter(prefix="/collections", tags=["collections"], route_class=UnitOfWorkRoute)
payout_timeline_router = APIRouter(prefix="/payouts", tags=["payouts"], route_class=UnitOfWorkRoute)
holdings_timeline_router = APIRouter(route_class=UnitOfWorkRoute)
Support = Annotated[Actor, Depends(authorize(Scope.support))]
Limit = Annotated[
    int, Query(ge=1, le=search_service.MAX_TIMELINE_LIMIT, description="The most entries shown, newest first.")
]


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


@timeline_router.get("/{collection_id}/timeline", response_model=schemas.TimelineOut)
async def collection_timeline(
    session: Session, collection_id: str, actor: Annotated[Actor, Depends(authorize(Scope.support))]
) -> schemas.TimelineOut:
    """The collection's story, oldest first: each state change with its cause, the
    webhooks that named it, the ledger transfers that moved its money, its alerts
    and audit rows. Built from what Sika records; no secret, card data or webhook
    body is in it."""
    story = await search_service.collection_timeline(session, collection_id=collection_id, actor=actor)
    return schemas.TimelineOut(
        collection=schemas.CollectionSummary.model_validate(story.collection),
        entries=[schemas.TimelineEntry.model_validate(entry) for entry in story.entries],
    )


@payout_timeline_router.get("/{payout_id}/timeline", response_model=schemas.PayoutTimelineOut)
async def payout_timeline(
    session: Session, payout_id: str, actor: Annotated[Actor, Depends(authorize(Scope.support))]
) -> schemas.PayoutTimelineOut:
    """The payout's story, oldest first: each state change with its cause, the webhooks
    that named it, the hold placed for it, its capture or release and any reversal, its
    alerts and audit rows. Built from what Sika records; no secret or webhook body is in it."""
    story = await search_service.payout_timeline(session, payout_id=payout_id, actor=actor)
    return schemas.PayoutTimelineOut(
        payout=schemas.PayoutSummary.model_validate(story.payout),
        entries=[schemas.TimelineEntry.model_validate(entry) for entry in story.entries],
    )


@holdings_timeline_router.get("/holds/{hold_id}/timeline", response_model=schemas.HoldTimelineOut, tags=["holds"])
async def hold_timeline(session: Session, hold_id: str, actor: Support) -> schemas.HoldTimelineOut:
    """The hold's story, oldest first: its placement, capture, release or expiry with its
    wallet's balance and held money before and after each, the payout it guarantees, its
    alerts and audit rows."""
    story = await search_service.hold_timeline(session, hold_id=hold_id, actor=actor, now=clock.now())
    return schemas.HoldTimelineOut(
        hold=schemas.HoldSummary.model_validate(search_service.hold_summary(story.hold)),
        entries=[schemas.TimelineEntry.model_validate(entry) for entry in story.entries],
    )


@holdings_timeline_router.get(
    "/wallets/{wallet_id}/timeline", response_model=schemas.WalletTimelineOut, tags=["wallets"]
)
async def wallet_timeline(
    session: Session, wallet_id: str, actor: Support, limit: Limit = search_service.DEFAULT_TIMELINE_LIMIT
) -> schemas.WalletTimelineOut:
    """The wallet's newest movements (each with its balance and held money before and after),
    audit rows and alerts, newest first, at most ``limit``."""
    story = await search_service.wallet_timeline(
        session, wallet_id=wallet_id, actor=actor, now=clock.now(), limit=limit
    )
    return schemas.WalletTimelineOut(
        wallet=schemas.WalletSummary.model_validate(search_service.wallet_summary(story.wallet)),
        entries=[schemas.TimelineEntry.model_validate(entry) for entry in story.entries],
        limit=story.limit,
        truncated=story.truncated,
    )


@holdings_timeline_router.get("/parties/{party_id}/timeline", response_model=schemas.PartyTimelineOut, tags=["parties"])
async def party_timeline(
    session: Session, party_id: str, actor: Support, limit: Limit = search_service.DEFAULT_TIMELINE_LIMIT
) -> schemas.PartyTimelineOut:
    """The party's newest entries, newest first, at most ``limit``: its audit rows and alerts,
    its wallets' movements, and its collections, payouts and escrows (``linked``: read each
    one's own timeline for the rest)."""
    story = await search_service.party_timeline(session, party_id=party_id, actor=actor, limit=limit)
    return schemas.PartyTimelineOut(
        party=schemas.PartySummary.model_validate(story.party),
        wallet_ids=story.wallet_ids,
        entries=[schemas.TimelineEntry.model_validate(entry) for entry in story.entries],
        limit=story.limit,
        truncated=story.truncated,
    )
