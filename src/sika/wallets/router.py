"""Wallets, holds and history (a party's financial summary reads its escrows
too, so the escrow router serves it).

A party token may read its own wallets, holds and history, place
holds on its own wallets, and capture (to another wallet, with no fee) or
release the holds it placed itself. Holds placed with an API key are
captured and released with an API key: they guarantee money to someone
else, so the payer cannot spend or cancel them. Holds another domain owns
(a payout's) are resolved by that domain alone. The rules are the wallets
service's, not this router's. Opening a wallet takes a platform key;
top-ups are for operations (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, decode_int_cursor, encode_cursor, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.core.paging import MAX_LIMIT
from sika.wallets import schemas
from sika.wallets import service as wallets_service

router = APIRouter(tags=["wallets"], route_class=UnitOfWorkRoute)
admin = authorize(Scope.admin)
Admin = Annotated[Actor, Depends(admin)]
AdminClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(admin, required=True))]
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
PlatformOrPartyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, required=True))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def wallet_out(view: wallets_service.WalletView) -> schemas.WalletOut:
    return schemas.WalletOut(
        id=view.wallet.id,
        party_id=view.wallet.party_id,
        currency=view.wallet.currency,
        account_id=view.wallet.account_id,
        holds_account_id=view.wallet.holds_account_id,
        balance_minor=view.balance_minor,
        held_minor=view.held_minor,
        available_minor=view.available_minor,
        created_at=view.wallet.created_at,
    )


def hold_out(view: wallets_service.HoldView) -> schemas.HoldOut:
    described = view.pending.metadata
    capture = view.capture
    return schemas.HoldOut(
        id=view.pending.id,
        wallet_id=view.wallet.wallet.id,
        currency=view.pending.currency,
        amount_minor=view.pending.amount_minor,
        status=view.status,
        captured_minor=view.captured_minor,
        returned_minor=view.returned_minor,
        destination_wallet_id=capture.destination_wallet_id,
        destination_minor=capture.destination_minor,
        platform_fee_minor=capture.platform_fee_minor,
        fee_account_id=capture.fee_account_id,
        owner_type=view.record.owner_type,
        owner_id=view.record.owner_id,
        reason=described.get("reason", ""),
        reference=described.get("reference"),
        expires_at=view.pending.expires_at,
        created_at=view.pending.created_at,
        resolved_at=view.resolved_at,
        wallet=wallet_out(view.wallet),
    )


# The router's first routes: FastAPI tries them in order, and platforms call these most.
@router.post("/wallets/{wallet_id}/holds", status_code=201, response_model=schemas.HoldOut)
async def place_hold(
    wallet_id: str, body: schemas.HoldCreate, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyClaim
) -> schemas.HoldOut:
    view = await wallets_service.place_hold(
        session,
        wallet_id=wallet_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        reference=body.reference,
        expires_in_seconds=body.expires_in_seconds,
        owner=wallets_service.API_OWNER,
        actor=actor,
        now=clock.now(),
    )
    return hold_out(view)


@router.post("/holds/{hold_id}/capture", response_model=schemas.HoldOut)
async def capture_hold(
    hold_id: str, body: schemas.HoldCapture, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyClaim
) -> schemas.HoldOut:
    view = await wallets_service.capture_hold(
        session,
        hold_id=hold_id,
        amount_minor=body.amount_minor,
        destination_wallet_id=body.destination_wallet_id,
        platform_fee_minor=body.platform_fee_minor,
        owner=wallets_service.API_OWNER,
        actor=actor,
        now=clock.now(),
    )
    return hold_out(view)


@router.post("/parties/{party_id}/wallets", status_code=201, response_model=schemas.WalletOut)
async def open_wallet(
    party_id: str, body: schemas.WalletCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.WalletOut:
    view = await wallets_service.open_wallet(
        session, party_id=party_id, currency=body.currency, actor=actor, now=clock.now()
    )
    return wallet_out(view)


@router.get("/parties/{party_id}/wallets", response_model=schemas.WalletPage)
async def list_party_wallets(party_id: str, session: Session, actor: ReaderOrParty, page: Page) -> schemas.WalletPage:
    views = await wallets_service.list_party_wallets(
        session, party_id=party_id, page=page, actor=actor, now=clock.now()
    )
    return schemas.WalletPage(
        data=[wallet_out(view) for view in views],
        next_cursor=next_cursor([view.wallet for view in views], page.limit),
    )


@router.get("/platforms/{platform_id}/fees", response_model=schemas.PlatformFeesOut)
async def platform_fees(platform_id: str, session: Session, actor: Reader) -> schemas.PlatformFeesOut:
    """What the platform's fee accounts have earned, per currency."""
    balances = await wallets_service.platform_fees(session, platform_id=platform_id)
    return schemas.PlatformFeesOut(
        platform_id=platform_id, data=[schemas.FeeBalanceOut.model_validate(b) for b in balances]
    )


@router.get("/wallets/{wallet_id}", response_model=schemas.WalletOut)
async def get_wallet(wallet_id: str, session: Session, actor: ReaderOrParty) -> schemas.WalletOut:
    return wallet_out(await wallets_service.get_wallet(session, wallet_id=wallet_id, actor=actor, now=clock.now()))


@router.get("/wallets/{wallet_id}/history", response_model=schemas.HistoryPage)
async def wallet_history(
    wallet_id: str,
    session: Session,
    actor: ReaderOrParty,
    cursor: str | None = None,
    limit: Limit = 50,
) -> schemas.HistoryPage:
    page = await wallets_service.history(
        session, wallet_id=wallet_id, before_seq=decode_int_cursor(cursor), limit=limit, actor=actor
    )
    return schemas.HistoryPage(
        data=[schemas.HistoryEntryOut.model_validate(entry) for entry in page.entries],
        next_cursor=encode_cursor(page.next_before_seq) if page.next_before_seq is not None else None,
    )


@router.post("/wallets/{wallet_id}/top-ups", status_code=201, response_model=schemas.TopUpOut)
async def top_up(
    wallet_id: str, body: schemas.TopUpCreate, session: Session, actor: Admin, claim: AdminClaim
) -> schemas.TopUpOut:
    done = await wallets_service.top_up(
        session,
        wallet_id=wallet_id,
        amount_minor=body.amount_minor,
        reference=body.reference,
        reason=body.reason,
        actor=actor,
        now=clock.now(),
    )
    return schemas.TopUpOut(
        transfer_id=done.transfer.id,
        amount_minor=done.transfer.amount_minor,
        currency=done.transfer.currency,
        reference=done.reference,
        reason=done.reason,
        created_at=done.transfer.created_at,
        wallet=wallet_out(done.wallet),
    )


@router.get("/wallets/{wallet_id}/holds", response_model=schemas.HoldPage)
async def list_holds(
    wallet_id: str,
    session: Session,
    actor: ReaderOrParty,
    cursor: str | None = None,
    limit: Limit = 50,
) -> schemas.HoldPage:
    holds, next_seq = await wallets_service.list_holds(
        session,
        wallet_id=wallet_id,
        before_seq=decode_int_cursor(cursor),
        limit=limit,
        actor=actor,
        now=clock.now(),
    )
    return schemas.HoldPage(
        data=[hold_out(view) for view in holds],
        next_cursor=encode_cursor(next_seq) if next_seq is not None else None,
    )


@router.get("/holds/{hold_id}", response_model=schemas.HoldOut)
async def get_hold(hold_id: str, session: Session, actor: ReaderOrParty) -> schemas.HoldOut:
    return hold_out(await wallets_service.get_hold(session, hold_id=hold_id, actor=actor, now=clock.now()))


@router.post("/holds/{hold_id}/release", response_model=schemas.HoldOut)
async def release_hold(
    hold_id: str, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyClaim
) -> schemas.HoldOut:
    view = await wallets_service.release_hold(
        session, hold_id=hold_id, owner=wallets_service.API_OWNER, actor=actor, now=clock.now()
    )
    return hold_out(view)
