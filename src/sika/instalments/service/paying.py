"""Paying an instalment, exactly once, for exactly the amount fixed when the payment started.

``pay`` locks the plan and the instalment (``SELECT … FOR UPDATE``) and refuses, before any
provider is called, an instalment cancelled or stopped, already paid, or with a payment in
flight (409s naming which). It fixes the final amount (``amounts``) on a payment row; a
unique index keeps one pending payment per instalment, so of any number of parallel calls
one starts a payment and the others are refused.

From the payer's wallet (no ``method``), the money moves to the payee at once, in the
request's transaction. By mobile money or card, a collection of exactly the final amount
into the payer's wallet is started through the payments' phased flow (no transaction open
across the provider call); when it succeeds, however the news arrives (the provider's
answer, a webhook, reconciliation, an OTP), ``paid_on_credit`` moves the money on to the
payee and marks the instalment paid in the transaction that credits the wallet. A reported
amount that differs by one minor unit is not credited (``amount_mismatch``, a critical
alert: the payments' rule), and such a collection, like a failed one, ends its payment
``failed`` (``payment_failed``): the instalment is payable again. A final of 0 marks the
instalment paid with no money moved and no provider called."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors, ids
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.instalments import repository
from sika.instalments.models import Instalment, InstalmentPayment, InstalmentPlan
from sika.instalments.service import announce
from sika.instalments.service.access import check_payer, locked, readable, require_open
from sika.instalments.service.amounts import Due, due_of
from sika.instalments.service.plans import complete_if_done
from sika.instalments.states import InstalmentStatus, PaymentMethod, PaymentStatus
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.promos import service as promos_service
from sika.providers import failover
from sika.wallets import service as wallets_service

PAID_CODE = "instalment.paid"


@dataclass(frozen=True)
class InstalmentView:
    instalment: Instalment
    plan: InstalmentPlan
    payments: list[InstalmentPayment]


@dataclass(frozen=True)
class Payment:
    view: InstalmentView
    payment: InstalmentPayment
    collection: Collection | None


async def detail(session: AsyncSession, *, instalment_id: str, actor: Actor) -> InstalmentView:
    instalment, plan = await readable(session, instalment_id=instalment_id, actor=actor)
    return InstalmentView(instalment=instalment, plan=plan, payments=await repository.payments(session, instalment.id))


def _method_of(method: payments_service.MobileMoney | payments_service.Card | None, due: Due) -> PaymentMethod:
    if due.final_minor == 0:
        return PaymentMethod.nothing_due
    if method is None:
        return PaymentMethod.wallet
    return PaymentMethod.card if isinstance(method, payments_service.Card) else PaymentMethod.mobile_money


def _new_payment(
    instalment: Instalment, due: Due, method: PaymentMethod, *, actor: Actor, now: datetime
) -> InstalmentPayment:
    return InstalmentPayment(
        id=ids.new_id("inpay"),
        instalment_id=instalment.id,
        platform_id=instalment.platform_id,
        method=method.value,
        status=PaymentStatus.pending.value,
        base_minor=due.base_minor,
        discount_minor=due.discount_minor,
        reduction_minor=due.reduction_minor,
        final_minor=due.final_minor,
        promo_code=due.promo_code,
        promo_code_id=due.promo.id if due.promo else None,
        created_by=actor.id,
        created_at=now,
    )


async def _to_payee(
    session: AsyncSession, plan: InstalmentPlan, payment: InstalmentPayment, *, actor: Actor, now: datetime
) -> str:
    """Move the payment's final amount from the payer's wallet to the payee: a party's
    wallet (under the platform's P2P rules, like every movement to another party) or the
    platform's revenue (its fee account). Returns the ledger transfer's id."""
    metadata: dict[str, Any] = {"instalment_id": payment.instalment_id, "payment_id": payment.id, "plan_id": plan.id}
    transfer_id = f"{payment.id}.pay"
    if plan.payee_wallet_id is None:
        revenue = await wallets_service.ensure_fee_account(
            session, platform_id=plan.platform_id, currency=plan.currency, actor=actor, now=now
        )
        moved = await wallets_service.debit_to_account(
            session,
            wallet_id=plan.payer_wallet_id,
            account_id=revenue,
            amount_minor=payment.final_minor,
            code=PAID_CODE,
            transfer_id=transfer_id,
            metadata=metadata,
            actor=actor,
            now=now,
        )
        return moved.id
    source = await wallets_service.owned_wallet(session, wallet_id=plan.payer_wallet_id, actor=actor)
    destination = await wallets_service.recipient_wallet(session, source=source, wallet_id=plan.payee_wallet_id)
    await wallets_service.pay_party(
        session,
        source=source,
        destination=destination,
        amount_minor=payment.final_minor,
        fee_minor=0,
        transfer_id=transfer_id,
        code=PAID_CODE,
        metadata=metadata,
        actor=actor,
        now=now,
    )
    return transfer_id


async def _settle(
    session: AsyncSession,
    plan: InstalmentPlan,
    instalment: Instalment,
    payment: InstalmentPayment,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """The payment succeeded: money to the payee, the instalment paid (and the plan completed
    when it was the last one open), with their events and audit rows."""
    if payment.final_minor:
        payment.transfer_id = await _to_payee(session, plan, payment, actor=actor, now=now)
    if payment.promo_code_id is not None:
        await promos_service.confirm(
            session, subject_id=payment.instalment_id, promo_code_id=payment.promo_code_id, now=now
        )
    payment.status = PaymentStatus.succeeded.value
    payment.settled_at = now
    was = instalment.status
    instalment.status = InstalmentStatus.paid.value
    instalment.paid_at = instalment.updated_at = now
    await session.flush()
    data = {
        "payment_id": payment.id,
        "method": payment.method,
        "final_minor": payment.final_minor,
        "discount_minor": payment.discount_minor,
        "reduction_minor": payment.reduction_minor,
        "promo_code": payment.promo_code,
        "transfer_id": payment.transfer_id,
        "collection_id": payment.collection_id,
        "was": was,
    }
    await announce.event(session, plan, instalment, "instalment.paid", now=now, data=data)
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment",
        entity_id=instalment.id,
        action="instalment.paid",
        actor=actor,
        data=data,
    )
    await complete_if_done(session, plan, await repository.instalments_of(session, [plan.id]), actor=actor, now=now)


async def pay(
    phases: Phases,
    *,
    instalment_id: str,
    method: payments_service.MobileMoney | payments_service.Card | None,
    promo_code: str | None,
    email: str | None,
    return_url: str | None,
    providers: failover.CollectionRouter,
    idempotency_key: str | None,
    actor: Actor,
    clock: payments_service.Clock,
) -> Payment:
    """Pay the instalment its final amount now: from the payer's wallet (``method`` None),
    or by starting a collection of exactly that amount (paid once it succeeds). A promo code
    is checked before the amount is computed and reserved for the instalment with the
    payment; confirmed when it succeeds, freed when it fails."""
    session = phases.first
    now = clock()
    instalment, plan = await locked(session, instalment_id=instalment_id, actor=actor)
    check_payer(actor, plan)
    await require_open(session, instalment, action="pay it")
    due = await due_of(session, instalment, plan, promo_code=promo_code, now=now)
    payment = _new_payment(instalment, due, _method_of(method, due), actor=actor, now=now)
    if due.promo is not None:
        await promos_service.reserve(
            session,
            promo=due.promo,
            subject_id=instalment.id,
            party_id=plan.payer_party_id,
            amount_off_minor=due.discount_minor,
            now=now,
        )
    if method is None or due.final_minor == 0:
        await repository.add(session, payment)
        await _settle(session, plan, instalment, payment, actor=actor, now=now)
        view = InstalmentView(instalment, plan, await repository.payments(session, instalment.id))
        return Payment(view=view, payment=payment, collection=None)

    async def recorded(session: AsyncSession, collection: Collection) -> None:
        payment.collection_id = collection.id
        await repository.add(session, payment)
        data = {"payment_id": payment.id, "collection_id": collection.id, "final_minor": payment.final_minor}
        await announce.audit(
            session,
            platform_id=plan.platform_id,
            entity_type="instalment",
            entity_id=instalment.id,
            action="instalment.payment_started",
            actor=actor,
            data=data,
        )

    collection = await payments_service.create_collection(
        phases,
        party_id=plan.payer_party_id,
        wallet_id=plan.payer_wallet_id,
        amount_minor=due.final_minor,
        currency=plan.currency,
        method=method,
        email=email,
        description=f"Instalment {instalment.number} of plan {plan.id}",
        return_url=return_url,
        providers=providers,
        idempotency_key=idempotency_key,
        actor=actor,
        clock=clock,
        recorded=recorded,
    )
    async with phases.phase() as later:
        view = await detail(later, instalment_id=instalment_id, actor=actor)
    shown = next(p for p in view.payments if p.id == payment.id)
    return Payment(view=view, payment=shown, collection=collection)


async def _locked_payment(
    session: AsyncSession, collection: Collection
) -> tuple[InstalmentPayment, Instalment, InstalmentPlan] | None:
    """The pending payment a collection was started for, locked after its plan and instalment."""
    found = await repository.payment_of_collection(session, collection.id, for_update=False)
    if found is None:
        return None
    instalment = await repository.get_instalment(session, found.instalment_id)
    assert instalment is not None, "a foreign key keeps the instalment"
    plan = await repository.get_plan(session, instalment.plan_id, for_update=True)
    instalment = await repository.get_instalment(session, found.instalment_id, for_update=True)
    payment = await repository.payment_of_collection(session, collection.id, for_update=True)
    assert plan is not None, "a foreign key keeps the plan"
    assert instalment is not None, "a foreign key keeps the instalment"
    assert payment is not None, "payments are never deleted"
    if payment.status != PaymentStatus.pending.value:
        return None
    return payment, instalment, plan


async def paid_on_credit(
    session: AsyncSession, collection: Collection, now: datetime, actor: Actor
) -> payments_service.AfterCredit | None:
    """The collection flow's handler (``payments_service.on_credit``): for a collection that
    pays an instalment, lock it now and pay the payee once the payer's wallet is credited.
    A move the rules refuse then (the payer suspended since) leaves the money in the payer's
    wallet, the payment failed, and ``instalment.payment_not_applied`` says why."""
    locked_payment = await _locked_payment(session, collection)
    if locked_payment is None:
        return None
    payment, instalment, plan = locked_payment

    async def pay_payee() -> None:
        try:
            async with session.begin_nested():
                await _settle(session, plan, instalment, payment, actor=actor, now=now)
        except errors.SikaError as refusal:
            await session.refresh(instalment)
            await session.refresh(payment)
            await _fail(session, plan, instalment, payment, code=refusal.code, now=now, actor=actor)
            data = {"payment_id": payment.id, "collection_id": collection.id, "detail": refusal.detail}
            await announce.event(session, plan, instalment, "instalment.payment_not_applied", now=now, data=data)

    return pay_payee


async def _fail(
    session: AsyncSession,
    plan: InstalmentPlan,
    instalment: Instalment,
    payment: InstalmentPayment,
    *,
    code: str,
    now: datetime,
    actor: Actor,
) -> None:
    payment.status = PaymentStatus.failed.value
    payment.failure_code = code[:100]
    payment.settled_at = now
    await session.flush()
    if payment.promo_code_id is not None:
        await promos_service.free(
            session, subject_id=payment.instalment_id, promo_code_id=payment.promo_code_id, now=now
        )
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment",
        entity_id=instalment.id,
        action="instalment.payment_failed",
        actor=actor,
        data={"payment_id": payment.id, "collection_id": payment.collection_id, "failure_code": payment.failure_code},
    )


async def failed_on_collection(session: AsyncSession, collection: Collection, now: datetime, actor: Actor) -> None:
    """The collection flow's failure handler (``payments_service.on_failure``): the payment of a
    collection that failed or reported another amount fails too; the instalment is payable again."""
    locked_payment = await _locked_payment(session, collection)
    if locked_payment is None:
        return
    payment, instalment, plan = locked_payment
    await _fail(
        session, plan, instalment, payment, code=collection.failure_code or collection.status, now=now, actor=actor
    )
    data = {"payment_id": payment.id, "collection_id": collection.id, "failure_code": payment.failure_code}
    await announce.event(session, plan, instalment, "instalment.payment_failed", now=now, data=data)


payments_service.on_credit("instalments", paid_on_credit)
payments_service.on_failure("instalments", failed_on_collection)
