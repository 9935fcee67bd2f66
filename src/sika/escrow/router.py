"""Escrows over HTTP.

A platform key creates escrows and may take every party's step for it; the
client's party token funds, cancels, approves and disputes; the beneficiary's
delivers; both read their escrows. An operator (``support`` or ``admin``)
resolves disputes. Which party may do what is the escrow service's rule, not
this router's.

``summary_router`` serves a party's financial summary, which reads the
escrows beside the wallets (``sika.escrow.service.summary``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from sika.api.deps import CurrentPhases, CurrentSettings, Session, authorize, get_session
from sika.api.idempotency import IdempotencyClaim, Recovered, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.providers import collection_router
from sika.api.unit_of_work import PhasedRoute, UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.escrow import schemas
from sika.escrow import service as escrow_service
from sika.escrow.service import summary as summary_service
from sika.escrow.states import EscrowStatus
from sika.payments import schemas as payments_schemas
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.payments.states import CollectionStatus
from sika.providers import failover
from sika.wallets import schemas as wallets_schemas

router = APIRouter(prefix="/escrows", tags=["escrows"], route_class=UnitOfWorkRoute)
# Funding may start a collection, which calls a provider: its route runs in phases.
phased_router = APIRouter(prefix="/escrows", tags=["escrows"], route_class=PhasedRoute)
Providers = Annotated[failover.CollectionRouter, Depends(collection_router)]
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
PlatformOrPartyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party))]
# Funding, cancelling (deposits go back) and approving (a release) move money: their key is required.
PlatformOrPartyMoneyClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, required=True))
]
operator = authorize(Scope.support)
Operator = Annotated[Actor, Depends(operator)]
OperatorClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(operator, required=True))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


def escrow_out(view: escrow_service.EscrowView) -> schemas.EscrowOut:
    escrow = view.escrow
    return schemas.EscrowOut.model_validate(
        {
            **{name: getattr(escrow, name) for name in schemas.EscrowOut.model_fields if hasattr(escrow, name)},
            "metadata": escrow.metadata_,
            "held_minor": escrow.funded_minor - escrow.released_minor - escrow.refunded_minor,
            "auto_payout": (
                None
                if escrow.payout_operator is None
                else {
                    "operator": escrow.payout_operator,
                    "phone": escrow.payout_phone,
                    "country": escrow.payout_country,
                }
            ),
            "milestones": [schemas.MilestoneOut.model_validate(m) for m in view.milestones],
        }
    )


@router.post("", status_code=201, response_model=schemas.EscrowOut)
async def create_escrow(
    body: schemas.EscrowCreate, session: Session, settings: CurrentSettings, actor: Platform, claim: PlatformClaim
) -> schemas.EscrowOut:
    made = await escrow_service.create_escrow(
        session, body=body, payout_providers=settings.PAYOUT_PROVIDERS, actor=actor, now=clock.now()
    )
    return escrow_out(made)


@router.get("", response_model=schemas.EscrowPage)
async def list_escrows(
    session: Session,
    actor: ReaderOrParty,
    page: Page,
    party_id: str | None = None,
    status: EscrowStatus | None = None,
) -> schemas.EscrowPage:
    """Newest first; ``party_id`` keeps those the party is the client or the beneficiary of
    (a party token sees only its own)."""
    views = await escrow_service.list_escrows(session, party_id=party_id, status=status, page=page, actor=actor)
    return schemas.EscrowPage(
        data=[escrow_out(view) for view in views],
        next_cursor=next_cursor([view.escrow for view in views], page.limit),
    )


@router.get("/{escrow_id}", response_model=schemas.EscrowOut)
async def get_escrow(escrow_id: str, session: Session, actor: ReaderOrParty) -> schemas.EscrowOut:
    return escrow_out(await escrow_service.get_escrow(session, escrow_id=escrow_id, actor=actor))


async def _funding_collected(request: Request, actor: Actor, key: str) -> Recovered | None:
    """The collection a funding request with this key started (a deposit from the wallet
    commits with its answer, so only a collection's phases leave a key unanswered)."""
    session = get_session(request)
    collection = await payments_service.collection_started_with(session, idempotency_key=key, actor=actor)
    if collection is None:
        return None
    view = await escrow_service.get_escrow(session, escrow_id=request.path_params["escrow_id"], actor=actor)
    settled = collection.status != CollectionStatus.initiated.value
    return Recovered(body=fund_out(view, collection), status=200, settled=settled)


FundClaim = Annotated[
    IdempotencyClaim | None,
    Depends(idempotency_claim(platform_or_party, recover=_funding_collected, required=True)),
]


def fund_out(view: escrow_service.EscrowView, collection: Collection | None) -> schemas.FundOut:
    shown = escrow_out(view).model_dump()
    if collection is not None:
        shown["collection"] = payments_schemas.collection_out(collection)
    return schemas.FundOut.model_validate(shown)


@phased_router.post("/{escrow_id}/fund", response_model=schemas.FundOut)
async def fund_escrow(
    escrow_id: str,
    body: schemas.Deposit,
    phases: CurrentPhases,
    actor: PlatformOrParty,
    claim: FundClaim,
    providers: Providers,
) -> schemas.FundOut:
    """A deposit into the escrow: from the client's wallet, or, with ``method``, collected
    from the client's mobile money or card (the escrow funded when the collection succeeds)."""
    if body.method is None:
        view = await escrow_service.fund_escrow(
            phases.first, escrow_id=escrow_id, amount_minor=body.amount_minor, actor=actor, now=clock.now()
        )
        return fund_out(view, None)
    method = (
        payments_service.Card(token=body.method.card_token)
        if isinstance(body.method, payments_schemas.Card)
        else payments_service.MobileMoney(
            operator=body.method.operator, phone=body.method.phone, country=body.method.country
        )
    )
    view, collection = await escrow_service.fund_by_collection(
        phases,
        escrow_id=escrow_id,
        amount_minor=body.amount_minor,
        method=method,
        email=body.email,
        return_url=body.return_url,
        providers=providers,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return fund_out(view, collection)


@router.post("/{escrow_id}/cancel", response_model=schemas.EscrowOut)
async def cancel_escrow(
    escrow_id: str, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyMoneyClaim
) -> schemas.EscrowOut:
    """Before it is funded; deposits go back to the client's wallet."""
    return escrow_out(await escrow_service.cancel_escrow(session, escrow_id=escrow_id, actor=actor, now=clock.now()))


@router.post("/{escrow_id}/milestones/{number}/deliver", response_model=schemas.EscrowOut)
async def deliver_milestone(
    escrow_id: str, number: int, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyClaim
) -> schemas.EscrowOut:
    view = await escrow_service.deliver(session, escrow_id=escrow_id, number=number, actor=actor, now=clock.now())
    return escrow_out(view)


@router.post("/{escrow_id}/milestones/{number}/approve", response_model=schemas.EscrowOut)
async def approve_milestone(
    escrow_id: str, number: int, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyMoneyClaim
) -> schemas.EscrowOut:
    view = await escrow_service.approve(session, escrow_id=escrow_id, number=number, actor=actor, now=clock.now())
    return escrow_out(view)


@router.post("/{escrow_id}/milestones/{number}/dispute", response_model=schemas.EscrowOut)
async def dispute_milestone(
    escrow_id: str,
    number: int,
    body: schemas.Dispute,
    session: Session,
    actor: PlatformOrParty,
    claim: PlatformOrPartyClaim,
) -> schemas.EscrowOut:
    view = await escrow_service.dispute(
        session, escrow_id=escrow_id, number=number, reason=body.reason, actor=actor, now=clock.now()
    )
    return escrow_out(view)


@router.post("/{escrow_id}/milestones/{number}/resolve", response_model=schemas.EscrowOut)
async def resolve_milestone(
    escrow_id: str,
    number: int,
    body: schemas.Resolution,
    session: Session,
    actor: Operator,
    claim: OperatorClaim,
) -> schemas.EscrowOut:
    view = await escrow_service.resolve(
        session,
        escrow_id=escrow_id,
        number=number,
        release_minor=body.release_minor,
        refund_minor=body.refund_minor,
        note=body.note,
        actor=actor,
        now=clock.now(),
    )
    return escrow_out(view)


summary_router = APIRouter(tags=["wallets"], route_class=UnitOfWorkRoute)
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
"""``YYYY-MM``, 1900-01 to 2999-12."""


@summary_router.get("/parties/{party_id}/summary", response_model=wallets_schemas.PartySummaryOut)
async def party_summary(
    party_id: str,
    session: Session,
    actor: ReaderOrParty,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (UTC); the current month if left out.")
    ] = None,
) -> wallets_schemas.PartySummaryOut:
    """Per currency: the wallet's money and what the party's escrows hold for it now (with
    the next release time), and what was released to it, paid out and paid in fees in ``month``."""
    summary = await summary_service.party_summary(session, party_id=party_id, month=month, actor=actor, now=clock.now())
    return wallets_schemas.PartySummaryOut.model_validate(summary)
