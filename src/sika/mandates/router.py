"""The spend catalogue and mandates over HTTP.

A platform key builds the catalogue and may take every party's step on a
mandate; only an operator (``support`` or ``admin``) certifies or decertifies
a merchant, since the mandates' protection against fraud rests on it. The
sender's party token creates, tops up and revokes its mandates and names
payees; the beneficiary's buys and spends; both read theirs. Which party may
do what is the mandate service's rule, not this router's."""

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
from sika.mandates import schemas
from sika.mandates import service as mandates_service
from sika.mandates.states import MandateStatus

router = APIRouter(tags=["mandates"], route_class=UnitOfWorkRoute)
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
platform_or_party = authorize(Scope.platform, allow_party=True)
PlatformOrParty = Annotated[Actor, Depends(platform_or_party)]
PlatformOrPartyClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party))]
# Creating, topping up, revoking, buying and spending move money: their key is required.
PlatformOrPartyMoneyClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(platform_or_party, required=True))
]
operator = authorize(Scope.support)
Operator = Annotated[Actor, Depends(operator)]
OperatorClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(operator))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


def mandate_out(view: mandates_service.MandateView) -> schemas.MandateOut:
    mandate = view.mandate
    payees = [
        schemas.PayeeOut(
            id=payee.id,
            party_id=payee.party_id,
            daily_limit_minor=payee.daily_limit_minor,
            total_limit_minor=payee.total_limit_minor,
            spent_today_minor=view.spent_today.get(payee.id, 0),
            spent_minor=payee.spent_minor,
            created_at=payee.created_at,
        )
        for payee in view.payees
    ]
    fields = {name: getattr(mandate, name) for name in schemas.MandateOut.model_fields if hasattr(mandate, name)}
    return schemas.MandateOut.model_validate(
        {**fields, "remaining_minor": mandates_service.remaining(mandate), "payees": payees}
    )


@router.post("/spend-categories", status_code=201, response_model=schemas.SpendCategoryOut)
async def create_spend_category(
    body: schemas.SpendCategoryCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.SpendCategoryOut:
    category = await mandates_service.create_category(session, body=body, actor=actor, now=clock.now())
    return schemas.SpendCategoryOut.model_validate(category)


@router.get("/spend-categories", response_model=schemas.SpendCategoryPage)
async def list_spend_categories(session: Session, actor: ReaderOrParty, page: Page) -> schemas.SpendCategoryPage:
    found = await mandates_service.list_categories(session, page=page)
    return schemas.SpendCategoryPage(
        data=[schemas.SpendCategoryOut.model_validate(row) for row in found], next_cursor=next_cursor(found, page.limit)
    )


@router.post("/merchants", status_code=201, response_model=schemas.MerchantOut)
async def create_merchant(
    body: schemas.MerchantCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.MerchantOut:
    merchant = await mandates_service.create_merchant(session, body=body, actor=actor, now=clock.now())
    return schemas.MerchantOut.model_validate(merchant)


@router.get("/merchants", response_model=schemas.MerchantPage)
async def list_merchants(
    session: Session, actor: ReaderOrParty, page: Page, certified: bool | None = None
) -> schemas.MerchantPage:
    found = await mandates_service.list_merchants(session, certified=certified, page=page)
    return schemas.MerchantPage(
        data=[schemas.MerchantOut.model_validate(row) for row in found], next_cursor=next_cursor(found, page.limit)
    )


@router.get("/merchants/{merchant_id}", response_model=schemas.MerchantOut)
async def get_merchant(merchant_id: str, session: Session, actor: ReaderOrParty) -> schemas.MerchantOut:
    return schemas.MerchantOut.model_validate(await mandates_service.get_merchant(session, merchant_id=merchant_id))


@router.post("/merchants/{merchant_id}/certify", response_model=schemas.MerchantOut)
async def certify_merchant(
    merchant_id: str, session: Session, actor: Operator, claim: OperatorClaim
) -> schemas.MerchantOut:
    """Support or admin only: a platform key gets 403."""
    merchant = await mandates_service.certify(
        session, merchant_id=merchant_id, certified=True, actor=actor, now=clock.now()
    )
    return schemas.MerchantOut.model_validate(merchant)


@router.post("/merchants/{merchant_id}/decertify", response_model=schemas.MerchantOut)
async def decertify_merchant(
    merchant_id: str, session: Session, actor: Operator, claim: OperatorClaim
) -> schemas.MerchantOut:
    """Support or admin only: a platform key gets 403."""
    merchant = await mandates_service.certify(
        session, merchant_id=merchant_id, certified=False, actor=actor, now=clock.now()
    )
    return schemas.MerchantOut.model_validate(merchant)


@router.post("/mandates", status_code=201, response_model=schemas.MandateOut)
async def create_mandate(
    body: schemas.MandateCreate, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyMoneyClaim
) -> schemas.MandateOut:
    """The amount moves at once from the sender's wallet into the mandate."""
    return mandate_out(await mandates_service.create_mandate(session, body=body, actor=actor, now=clock.now()))


@router.get("/mandates", response_model=schemas.MandatePage)
async def list_mandates(
    session: Session,
    actor: ReaderOrParty,
    page: Page,
    party_id: str | None = None,
    status: MandateStatus | None = None,
) -> schemas.MandatePage:
    """Newest first; ``party_id`` keeps those the party sends or receives (a party token sees only its own)."""
    views = await mandates_service.list_mandates(
        session, party_id=party_id, status=status, page=page, actor=actor, now=clock.now()
    )
    return schemas.MandatePage(
        data=[mandate_out(view) for view in views],
        next_cursor=next_cursor([view.mandate for view in views], page.limit),
    )


@router.get("/mandates/{mandate_id}", response_model=schemas.MandateOut)
async def get_mandate(mandate_id: str, session: Session, actor: ReaderOrParty) -> schemas.MandateOut:
    return mandate_out(await mandates_service.get_mandate(session, mandate_id=mandate_id, actor=actor, now=clock.now()))


@router.post("/mandates/{mandate_id}/top-ups", response_model=schemas.MandateOut)
async def top_up_mandate(
    mandate_id: str, body: schemas.TopUp, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyMoneyClaim
) -> schemas.MandateOut:
    view = await mandates_service.top_up(
        session, mandate_id=mandate_id, amount_minor=body.amount_minor, actor=actor, now=clock.now()
    )
    return mandate_out(view)


@router.post("/mandates/{mandate_id}/revoke", response_model=schemas.MandateOut)
async def revoke_mandate(
    mandate_id: str, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyMoneyClaim
) -> schemas.MandateOut:
    """What is left goes back to the sender's wallet now."""
    return mandate_out(await mandates_service.revoke(session, mandate_id=mandate_id, actor=actor, now=clock.now()))


@router.post("/mandates/{mandate_id}/purchases", status_code=201, response_model=schemas.PurchaseOut)
async def create_purchase(
    mandate_id: str,
    body: schemas.PurchaseCreate,
    session: Session,
    actor: PlatformOrParty,
    claim: PlatformOrPartyMoneyClaim,
) -> schemas.PurchaseOut:
    """Paid straight from the mandate to the merchant's wallet, less the platform's fee."""
    bought = await mandates_service.purchase(session, mandate_id=mandate_id, body=body, actor=actor, now=clock.now())
    return schemas.PurchaseOut.model_validate(bought)


@router.get("/mandates/{mandate_id}/purchases", response_model=schemas.PurchasePage)
async def list_purchases(mandate_id: str, session: Session, actor: ReaderOrParty, page: Page) -> schemas.PurchasePage:
    found = await mandates_service.list_purchases(session, mandate_id=mandate_id, page=page, actor=actor)
    return schemas.PurchasePage(
        data=[schemas.PurchaseOut.model_validate(row) for row in found], next_cursor=next_cursor(found, page.limit)
    )


@router.post("/mandates/{mandate_id}/payees", status_code=201, response_model=schemas.MandateOut)
async def add_payee(
    mandate_id: str, body: schemas.PayeeCreate, session: Session, actor: PlatformOrParty, claim: PlatformOrPartyClaim
) -> schemas.MandateOut:
    view = await mandates_service.add_payee(session, mandate_id=mandate_id, body=body, actor=actor, now=clock.now())
    return mandate_out(view)


@router.post("/mandates/{mandate_id}/spends", status_code=201, response_model=schemas.SpendOut)
async def create_spend(
    mandate_id: str,
    body: schemas.SpendCreate,
    session: Session,
    actor: PlatformOrParty,
    claim: PlatformOrPartyMoneyClaim,
) -> schemas.SpendOut:
    """Paid to the payee's wallet within its daily and total limits, less the platform's fee."""
    spent = await mandates_service.spend(session, mandate_id=mandate_id, body=body, actor=actor, now=clock.now())
    return schemas.SpendOut.model_validate(spent)
