"""Instalment plans over HTTP.

A platform key creates plans, reads them, pays their instalments and cancels or stops
plans and instalments (with a reason); the payer's party token reads its plans and pays
its instalments. Manual reductions are granted by ``support`` or ``admin`` (or the
platform's key where its settings allow it: the service's rule). Paying may start a
collection, which calls a provider: that route runs in phases, on a router of its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from sika.api.deps import CurrentPhases, Session, authorize, get_session
from sika.api.idempotency import IdempotencyClaim, Recovered, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.providers import collection_router
from sika.api.unit_of_work import PhasedRoute, UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.instalments import schemas
from sika.instalments import service as instalments_service
from sika.instalments.states import Ending, PlanStatus
from sika.payments import schemas as payments_schemas
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.payments.states import CollectionStatus
from sika.providers import failover

router = APIRouter(prefix="/instalment-plans", tags=["instalments"], route_class=UnitOfWorkRoute)
instalments_router = APIRouter(prefix="/instalments", tags=["instalments"], route_class=UnitOfWorkRoute)
phased_router = APIRouter(prefix="/instalments", tags=["instalments"], route_class=PhasedRoute)
Providers = Annotated[failover.CollectionRouter, Depends(collection_router)]
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
payer = authorize(Scope.platform, allow_party=True)
Payer = Annotated[Actor, Depends(payer)]
reducer = authorize(Scope.support, Scope.platform)
Reducer = Annotated[Actor, Depends(reducer)]
ReducerClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(reducer))]
PromoCodeParam = Annotated[
    str | None, Query(min_length=1, max_length=64, description="A promo code to apply (any case).")
]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


def plan_out(view: instalments_service.PlanView) -> schemas.PlanOut:
    plan = view.plan
    shown = {name: getattr(plan, name) for name in schemas.PlanOut.model_fields if hasattr(plan, name)}
    shown["instalments"] = [schemas.InstalmentOut.model_validate(i) for i in view.instalments]
    return schemas.PlanOut.model_validate(shown)


def instalment_out(view: instalments_service.InstalmentView) -> schemas.InstalmentDetail:
    base = schemas.InstalmentOut.model_validate(view.instalment).model_dump()
    return schemas.InstalmentDetail.model_validate(
        {
            **base,
            "currency": view.plan.currency,
            "payments": [schemas.PaymentOut.model_validate(p) for p in view.payments],
        }
    )


@router.post("", status_code=201, response_model=schemas.PlanOut)
async def create_plan(
    body: schemas.PlanCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PlanOut:
    return plan_out(await instalments_service.create_plan(session, body=body, actor=actor, now=clock.now()))


@router.get("", response_model=schemas.PlanPage)
async def list_plans(
    session: Session, actor: ReaderOrParty, page: Page, party_id: str | None = None, status: PlanStatus | None = None
) -> schemas.PlanPage:
    """Newest first; ``party_id`` keeps the plans the party pays or is paid by (a party token sees only its own)."""
    views = await instalments_service.list_plans(session, party_id=party_id, status=status, page=page, actor=actor)
    return schemas.PlanPage(
        data=[plan_out(view) for view in views], next_cursor=next_cursor([v.plan for v in views], page.limit)
    )


@router.get("/{plan_id}", response_model=schemas.PlanOut)
async def get_plan(plan_id: str, session: Session, actor: ReaderOrParty) -> schemas.PlanOut:
    return plan_out(await instalments_service.get_plan(session, plan_id=plan_id, actor=actor))


async def _end_plan(
    plan_id: str, ending: Ending, body: schemas.Ending, session: Session, actor: Actor
) -> schemas.PlanOut:
    view = await instalments_service.end_plan(
        session, plan_id=plan_id, ending=ending, reason=body.reason, actor=actor, now=clock.now()
    )
    return plan_out(view)


@router.post("/{plan_id}/cancel", response_model=schemas.PlanOut)
async def cancel_plan(
    plan_id: str, body: schemas.Ending, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PlanOut:
    """Cancel the plan (annulé): its instalments still open are cancelled; those paid stay paid."""
    return await _end_plan(plan_id, Ending.cancel, body, session, actor)


@router.post("/{plan_id}/stop", response_model=schemas.PlanOut)
async def stop_plan(
    plan_id: str, body: schemas.Ending, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PlanOut:
    """Stop the plan (arrêté): its instalments still open are stopped; those paid stay paid."""
    return await _end_plan(plan_id, Ending.stop, body, session, actor)


@instalments_router.get("/{instalment_id}", response_model=schemas.InstalmentDetail)
async def get_instalment(instalment_id: str, session: Session, actor: ReaderOrParty) -> schemas.InstalmentDetail:
    return instalment_out(await instalments_service.detail(session, instalment_id=instalment_id, actor=actor))


@instalments_router.get("/{instalment_id}/amount-due", response_model=schemas.AmountDueOut)
async def amount_due(
    instalment_id: str, session: Session, actor: ReaderOrParty, promo_code: PromoCodeParam = None
) -> schemas.AmountDueOut:
    """What paying now would charge: base, promo discount, manual reductions, final. A
    ``promo_code`` is checked first: an unusable one is a 422 naming why."""
    instalment, plan, due = await instalments_service.amount_due(
        session, instalment_id=instalment_id, promo_code=promo_code, actor=actor, now=clock.now()
    )
    return schemas.AmountDueOut(
        instalment_id=instalment.id,
        currency=plan.currency,
        base_minor=due.base_minor,
        promo_code=due.promo_code,
        promo_discount_minor=due.discount_minor,
        reductions_minor=due.reduction_minor,
        final_minor=due.final_minor,
    )


@instalments_router.post("/{instalment_id}/reductions", status_code=201, response_model=schemas.ReductionOut)
async def add_reduction(
    instalment_id: str, body: schemas.ReductionCreate, session: Session, actor: Reducer, claim: ReducerClaim
) -> schemas.ReductionOut:
    reduction = await instalments_service.add_reduction(
        session, instalment_id=instalment_id, body=body, actor=actor, now=clock.now()
    )
    return schemas.ReductionOut.model_validate(reduction)


async def _end_instalment(
    instalment_id: str, ending: Ending, body: schemas.Ending, session: Session, actor: Actor
) -> schemas.PlanOut:
    view = await instalments_service.end_instalment(
        session, instalment_id=instalment_id, ending=ending, reason=body.reason, actor=actor, now=clock.now()
    )
    return plan_out(view)


@instalments_router.post("/{instalment_id}/cancel", response_model=schemas.PlanOut)
async def cancel_instalment(
    instalment_id: str, body: schemas.Ending, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PlanOut:
    """Cancel one open instalment (annulé); the plan as it stands after."""
    return await _end_instalment(instalment_id, Ending.cancel, body, session, actor)


@instalments_router.post("/{instalment_id}/stop", response_model=schemas.PlanOut)
async def stop_instalment(
    instalment_id: str, body: schemas.Ending, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PlanOut:
    """Stop one open instalment (arrêté); the plan as it stands after."""
    return await _end_instalment(instalment_id, Ending.stop, body, session, actor)


def pay_out(view: instalments_service.InstalmentView, collection: Collection | None) -> schemas.PayOut:
    payment = max(view.payments, key=lambda p: p.seq)
    return schemas.PayOut(
        instalment=instalment_out(view),
        payment=schemas.PaymentOut.model_validate(payment),
        collection=payments_schemas.collection_out(collection) if collection is not None else None,
    )


async def _payment_collected(request: Request, actor: Actor, key: str) -> Recovered | None:
    """The collection a pay request with this key started (a payment from the wallet
    commits with its answer, so only a collection's phases leave a key unanswered)."""
    session = get_session(request)
    collection = await payments_service.collection_started_with(session, idempotency_key=key, actor=actor)
    if collection is None:
        return None
    view = await instalments_service.detail(session, instalment_id=request.path_params["instalment_id"], actor=actor)
    settled = collection.status != CollectionStatus.initiated.value
    return Recovered(body=pay_out(view, collection), status=200, settled=settled)


PayClaim = Annotated[
    IdempotencyClaim | None, Depends(idempotency_claim(payer, recover=_payment_collected, required=True))
]


@phased_router.post("/{instalment_id}/pay", response_model=schemas.PayOut)
async def pay_instalment(
    instalment_id: str,
    body: schemas.PayBody,
    phases: CurrentPhases,
    actor: Payer,
    claim: PayClaim,
    providers: Providers,
) -> schemas.PayOut:
    """Pay the instalment's final amount: from the payer's wallet, or with ``method`` by a
    collection of exactly that amount (the instalment is paid when it succeeds)."""
    method: payments_service.Card | payments_service.MobileMoney | None = None
    if isinstance(body.method, payments_schemas.Card):
        method = payments_service.Card(token=body.method.card_token)
    elif body.method is not None:
        method = payments_service.MobileMoney(
            operator=body.method.operator, phone=body.method.phone, country=body.method.country
        )
    paid = await instalments_service.pay(
        phases,
        instalment_id=instalment_id,
        method=method,
        promo_code=body.promo_code,
        email=body.email,
        return_url=body.return_url,
        providers=providers,
        idempotency_key=claim.key if claim else None,
        actor=actor,
        clock=clock.now,
    )
    return pay_out(paid.view, paid.collection)
