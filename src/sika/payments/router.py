"""Collections and payouts over HTTP.

A collection takes money in from a customer's mobile money or card and
credits a wallet; a payout sends a wallet's money out to mobile money.
Starting either (and submitting a collection's OTP) calls a provider, so
those routes are on ``phased_router``, served by ``PhasedRoute`` (no
transaction is held across the call); reading is an ordinary unit of work
on ``router``. A party token may collect into, and read, its own wallets'
collections and read its own payouts; paying out takes a platform key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from sika.api.deps import CurrentPhases, CurrentSettings, Session, authorize, get_session
from sika.api.idempotency import IdempotencyClaim, Recovered, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.providers import collection_router
from sika.api.unit_of_work import PhasedRoute, UnitOfWorkRoute
from sika.audit.schemas import ActionReason
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.payments import schemas
from sika.payments import service as payments_service
from sika.payments.models import Collection, Payout
from sika.payments.states import CollectionStatus, PayoutStatus
from sika.providers import failover

router = APIRouter(route_class=UnitOfWorkRoute)
phased_router = APIRouter(route_class=PhasedRoute)
COLLECTIONS = "/collections"
PAYOUTS = "/payouts"
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
operator = authorize(Scope.support)
"""Support staff (and admins): the safe operator actions, which move no money by hand."""
Operator = Annotated[Actor, Depends(operator)]
OperatorClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(operator))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]
Providers = Annotated[failover.CollectionRouter, Depends(collection_router)]


async def _collection_made(request: Request, actor: Actor, key: str) -> Recovered | None:
    """The collection a create request with this key made: its phases are done once
    the provider's answer (or reconciliation) has moved it past ``initiated``."""
    collection = await payments_service.collection_started_with(get_session(request), idempotency_key=key, actor=actor)
    if collection is None:
        return None
    settled = collection.status != CollectionStatus.initiated.value
    return Recovered(body=schemas.collection_out(collection), status=201, settled=settled)


async def _otp_submitted(request: Request, actor: Actor, key: str) -> Recovered | None:
    """The collection an OTP was submitted to (its claim commits with the move to
    ``processing``): done once it has moved on from there; ``processing`` may be the
    provider's answer or a crash before it, which the lease tells apart."""
    collection = await payments_service.get_collection(
        get_session(request), collection_id=request.path_params["collection_id"], actor=actor
    )
    settled = collection.status != CollectionStatus.processing.value
    return Recovered(body=schemas.collection_out(collection), status=200, settled=settled)


async def _payout_made(request: Request, actor: Actor, key: str) -> Recovered | None:
    """The payout a create request with this key made: done once past ``initiated``."""
    found = await payments_service.list_payouts(
        get_session(request),
        party_id=None,
        wallet_id=None,
        status=None,
        idempotency_key=key,
        after_seq=None,
        limit=1,
        actor=actor,
    )
    if not found:
        return None
    settled = found[0].status != PayoutStatus.initiated.value
    return Recovered(body=schemas.payout_out(found[0]), status=201, settled=settled)


PayoutClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform, recover=_payout_made, required=True))
]
CollectionClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, recover=_collection_made, required=True))
]
OtpClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, recover=_otp_submitted, required=True))
]


def _mobile_money(method: schemas.MobileMoney | schemas.PayoutDestination) -> payments_service.MobileMoney:
    return payments_service.MobileMoney(operator=method.operator, phone=method.phone, country=method.country)


@phased_router.post(COLLECTIONS, status_code=201, response_model=schemas.CollectionOut, tags=["collections"])
async def create_collection(
    body: schemas.CollectionCreate,
    phases: CurrentPhases,
    actor: PlatformOrParty,
    claim: CollectionClaim,
    providers: Providers,
) -> schemas.CollectionOut:
    """Start a collection. The answer shows where the provider left it: for
    ``action_required``, ``next_action`` says what the customer must do (enter
    an OTP, approve on the phone, open ``redirect_url``)."""
    method = (
        payments_service.Card(token=body.method.card_token)
        if isinstance(body.method, schemas.Card)
        else _mobile_money(body.method)
    )
    collection = await payments_service.create_collection(
        phases,
        party_id=body.party_id,
        wallet_id=body.wallet_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        method=method,
        email=body.email,
        description=body.description,
        return_url=body.return_url,
        providers=providers,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return schemas.collection_out(collection)


@phased_router.post(f"{COLLECTIONS}/{{collection_id}}/otp", response_model=schemas.CollectionOut, tags=["collections"])
async def submit_collection_otp(
    collection_id: str,
    body: schemas.OtpSubmit,
    phases: CurrentPhases,
    actor: PlatformOrParty,
    claim: OtpClaim,
    providers: Providers,
) -> schemas.CollectionOut:
    """Hand the customer's OTP to the provider. With an Idempotency-Key, a retry gets
    the collection's state (the submission's event names the key)."""
    collection = await payments_service.submit_collection_otp(
        phases,
        collection_id=collection_id,
        otp=body.otp,
        providers=providers,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return schemas.collection_out(collection)


@router.get(COLLECTIONS, response_model=schemas.CollectionPage, tags=["collections"])
async def list_collections(
    session: Session,
    actor: ReaderOrParty,
    page: Page,
    party_id: str | None = None,
    wallet_id: str | None = None,
    status: CollectionStatus | None = None,
    idempotency_key: str | None = None,
) -> schemas.CollectionPage:
    """Newest first. ``idempotency_key`` finds the collection one of your own
    requests created, should its answer have been lost."""
    collections = await payments_service.list_collections(
        session,
        party_id=party_id,
        wallet_id=wallet_id,
        status=status,
        idempotency_key=idempotency_key,
        after_seq=page.after,
        limit=page.limit,
        actor=actor,
    )
    return schemas.CollectionPage(
        data=[schemas.collection_out(c) for c in collections],
        next_cursor=next_cursor(collections, page.limit),
    )


@router.get(f"{COLLECTIONS}/{{collection_id}}", response_model=schemas.CollectionOut, tags=["collections"])
async def get_collection(collection_id: str, session: Session, actor: ReaderOrParty) -> schemas.CollectionOut:
    collection = await payments_service.get_collection(session, collection_id=collection_id, actor=actor)
    return schemas.collection_out(collection)


@router.post(f"{COLLECTIONS}/{{collection_id}}/requeue", response_model=schemas.CollectionOut, tags=["collections"])
async def requeue_collection(
    collection_id: str, session: Session, actor: Operator, claim: OperatorClaim, body: ActionReason | None = None
) -> schemas.CollectionOut:
    """Put a collection reconciliation gave up on (``collection.reconcile_given_up``
    alert) back among those it asks the provider about every minute. ``reason``
    (optional) is kept in the audit row."""
    collection = await payments_service.requeue(
        session, Collection, collection_id, now=clock.now(), actor=actor, reason=body.reason if body else None
    )
    return schemas.collection_out(collection)


async def _collection_reconciled(request: Request, actor: Actor, key: str) -> Recovered | None:
    """A reconciliation asked for with this key that a crash cut short: asking the provider
    again is what the minute job does anyway, so the answer is the collection as it stands."""
    collection = await payments_service.get_collection(
        get_session(request), collection_id=request.path_params["collection_id"], actor=actor
    )
    return Recovered(body=schemas.collection_out(collection), status=200, settled=True)


async def _payout_reconciled(request: Request, actor: Actor, key: str) -> Recovered | None:
    """As ``_collection_reconciled``, for a payout."""
    payout = await payments_service.get_payout(
        get_session(request), payout_id=request.path_params["payout_id"], actor=actor
    )
    return Recovered(body=schemas.payout_out(payout), status=200, settled=True)


CollectionReconcileClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(operator, recover=_collection_reconciled))
]
PayoutReconcileClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(operator, recover=_payout_reconciled))
]


@phased_router.post(
    f"{COLLECTIONS}/{{collection_id}}/reconcile", response_model=schemas.CollectionOut, tags=["collections"]
)
async def reconcile_collection(
    collection_id: str,
    body: ActionReason,
    phases: CurrentPhases,
    actor: Operator,
    claim: CollectionReconcileClaim,
    providers: Providers,
) -> schemas.CollectionOut:
    """Ask the provider about an open collection now, as reconciliation does every minute,
    and apply its answer by the usual rules (a late success credits the wallet once).
    Nothing moves by hand. ``reason`` is required and kept in the audit rows (the request,
    then its outcome); a final collection answers 409 ``reconcile_not_open``."""
    done = await payments_service.reconcile_now(
        phases, Collection, collection_id, providers=providers, actor=actor, reason=body.reason, clock=clock.now
    )
    return schemas.collection_out(done.row)


@phased_router.post(PAYOUTS, status_code=201, response_model=schemas.PayoutOut, tags=["payouts"])
async def create_payout(
    body: schemas.PayoutCreate,
    phases: CurrentPhases,
    settings: CurrentSettings,
    actor: Platform,
    claim: PayoutClaim,
    providers: Providers,
) -> schemas.PayoutOut:
    """Hold the amount on the wallet and start the transfer; the answer shows
    where the provider left it (``processing`` until it confirms)."""
    payout = await payments_service.create_payout(
        phases,
        party_id=body.party_id,
        wallet_id=body.wallet_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        destination=_mobile_money(body.destination),
        recipient_name=body.recipient_name,
        reason=body.reason,
        providers=providers,
        payout_providers=settings.PAYOUT_PROVIDERS,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return schemas.payout_out(payout)


@router.post(f"{PAYOUTS}/{{payout_id}}/requeue", response_model=schemas.PayoutOut, tags=["payouts"])
async def requeue_payout(
    payout_id: str, session: Session, actor: Operator, claim: OperatorClaim, body: ActionReason | None = None
) -> schemas.PayoutOut:
    """Put a payout reconciliation gave up on (``payout.reconcile_given_up`` alert)
    back among those it asks the provider about every minute. ``reason`` (optional)
    is kept in the audit row."""
    payout = await payments_service.requeue(
        session, Payout, payout_id, now=clock.now(), actor=actor, reason=body.reason if body else None
    )
    return schemas.payout_out(payout)


@phased_router.post(f"{PAYOUTS}/{{payout_id}}/reconcile", response_model=schemas.PayoutOut, tags=["payouts"])
async def reconcile_payout(
    payout_id: str,
    body: ActionReason,
    phases: CurrentPhases,
    actor: Operator,
    claim: PayoutReconcileClaim,
    providers: Providers,
) -> schemas.PayoutOut:
    """Ask the provider about an open payout now and apply its answer by the usual rules
    (one it never made fails and its hold is released). Nothing moves by hand. ``reason``
    is required and kept in the audit rows; a final payout answers 409 ``reconcile_not_open``."""
    done = await payments_service.reconcile_now(
        phases, Payout, payout_id, providers=providers, actor=actor, reason=body.reason, clock=clock.now
    )
    return schemas.payout_out(done.row)


@router.get(PAYOUTS, response_model=schemas.PayoutPage, tags=["payouts"])
async def list_payouts(
    session: Session,
    actor: ReaderOrParty,
    page: Page,
    party_id: str | None = None,
    wallet_id: str | None = None,
    status: PayoutStatus | None = None,
    idempotency_key: str | None = None,
) -> schemas.PayoutPage:
    payouts = await payments_service.list_payouts(
        session,
        party_id=party_id,
        wallet_id=wallet_id,
        status=status,
        idempotency_key=idempotency_key,
        after_seq=page.after,
        limit=page.limit,
        actor=actor,
    )
    return schemas.PayoutPage(
        data=[schemas.payout_out(p) for p in payouts],
        next_cursor=next_cursor(payouts, page.limit),
    )


@router.get(f"{PAYOUTS}/{{payout_id}}", response_model=schemas.PayoutOut, tags=["payouts"])
async def get_payout(payout_id: str, session: Session, actor: ReaderOrParty) -> schemas.PayoutOut:
    payout = await payments_service.get_payout(session, payout_id=payout_id, actor=actor)
    return schemas.payout_out(payout)
