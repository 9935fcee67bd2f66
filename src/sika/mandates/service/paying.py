"""Paying out of a mandate: a purchase at a merchant, a spend to an allowed payee.

Each locks the mandate's row first (a spend then its payee's), checks every rule
with what it read under that lock, and moves the money in one journal entry
from the mandate's account: to the merchant's or the payee's wallet, less the
platform's fee, and the fee to the platform's fee account. Two requests on one
mandate take turns, so neither the remaining balance nor a payee's limits can
be overrun by requests that each saw room for themselves. A refusal raises
before anything is written. Each request's Idempotency-Key is the caller's:
two identical purchases or spends with different keys are two payments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids
from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.mandates import repository, schemas
from sika.mandates.models import Mandate, MandatePurchase, MandateSpend, Merchant
from sika.mandates.service import announce, catalogue
from sika.mandates.service.access import Role, locked_active
from sika.mandates.service.errors import (
    AbovePurchaseMaximum,
    DailyLimitExceeded,
    MandateInsufficient,
    MandatePartyHasNoWallet,
    MerchantNotAllowed,
    MerchantNotCertified,
    MerchantNotFound,
    PayeeNotFound,
    TotalLimitExceeded,
)
from sika.mandates.service.mandates import today
from sika.mandates.states import MandateStatus
from sika.platforms import service as platforms_service
from sika.wallets import service as wallets_service

PAY_CODE = "mandate.pay"


def _check_merchant(mandate: Mandate, merchant: Merchant) -> None:
    if merchant.id not in mandate.allowed_merchant_ids and merchant.category_id not in mandate.allowed_category_ids:
        raise MerchantNotAllowed(f"Mandate {mandate.id} does not allow merchant {merchant.id} or its category.")
    if mandate.certified_only and not merchant.certified:
        raise MerchantNotCertified(f"Mandate {mandate.id} pays only certified merchants; {merchant.id} is not.")


def _check_amount(mandate: Mandate, amount_minor: int) -> None:
    if mandate.max_purchase_minor is not None and amount_minor > mandate.max_purchase_minor:
        raise AbovePurchaseMaximum(
            f"Mandate {mandate.id} allows at most {mandate.max_purchase_minor} per purchase; {amount_minor} asked."
        )
    left = announce.remaining(mandate)
    if amount_minor > left:
        raise MandateInsufficient(f"Mandate {mandate.id} has {left} left; {amount_minor} asked.", remaining_minor=left)


async def purchase(
    session: AsyncSession, *, mandate_id: str, body: schemas.PurchaseCreate, actor: Actor, now: datetime
) -> MandatePurchase:
    """The beneficiary (or the platform) buys at a merchant the mandate allows,
    paid straight from the mandate to the merchant's wallet."""
    mandate = await locked_active(
        session, mandate_id=mandate_id, actor=actor, role=Role.beneficiary, action="buy", now=now, spending=True
    )
    merchant = await repository.merchant(session, body.merchant_id)
    if merchant is None or merchant.platform_id != mandate.platform_id:
        raise MerchantNotFound()
    _check_merchant(mandate, merchant)
    _check_amount(mandate, body.amount_minor)
    wallet = await catalogue.merchant_wallet(session, merchant, currency=mandate.currency, actor=actor)
    if wallet is None:
        raise MandatePartyHasNoWallet(f"Merchant {merchant.id} has no {mandate.currency} wallet.")
    fee = await _fee(session, mandate, body.amount_minor)
    bought = MandatePurchase(
        id=ids.new_id("mpu"),
        mandate_id=mandate.id,
        platform_id=mandate.platform_id,
        merchant_id=merchant.id,
        merchant_wallet_id=wallet,
        amount_minor=body.amount_minor,
        fee_minor=fee,
        reference=body.reference,
        created_by=actor.id,
        created_at=now,
    )
    await _pay(session, mandate, bought.id, wallet=wallet, amount=body.amount_minor, fee=fee, actor=actor, now=now)
    await repository.add(session, bought)
    data = {
        "purchase_id": bought.id,
        "merchant_id": merchant.id,
        "amount_minor": bought.amount_minor,
        "fee_minor": fee,
        "reference": bought.reference,
    }
    await _paid(session, mandate, "mandate.purchase_succeeded", actor=actor, now=now, data=data)
    return bought


async def spend(
    session: AsyncSession, *, mandate_id: str, body: schemas.SpendCreate, actor: Actor, now: datetime
) -> MandateSpend:
    """The beneficiary (or the platform) pays an allowed payee, within its daily and total limits."""
    mandate = await locked_active(
        session, mandate_id=mandate_id, actor=actor, role=Role.beneficiary, action="spend", now=now, spending=True
    )
    payee = await repository.payee_for_update(session, mandate_id=mandate.id, payee_id=body.payee_id)
    if payee is None:
        raise PayeeNotFound()
    day = await today(session, platform_id=mandate.platform_id, now=now)
    if payee.total_limit_minor is not None and payee.spent_minor + body.amount_minor > payee.total_limit_minor:
        left = payee.total_limit_minor - payee.spent_minor
        raise TotalLimitExceeded(f"Payee {payee.id} may still be paid {left} in total; {body.amount_minor} asked.")
    if payee.daily_limit_minor is not None:
        spent_today = (await repository.spent_on(session, [payee.id], day)).get(payee.id, 0)
        if spent_today + body.amount_minor > payee.daily_limit_minor:
            left = payee.daily_limit_minor - spent_today
            raise DailyLimitExceeded(f"Payee {payee.id} may still be paid {left} on {day}; {body.amount_minor} asked.")
    _check_amount(mandate, body.amount_minor)
    fee = await _fee(session, mandate, body.amount_minor)
    spent = MandateSpend(
        id=ids.new_id("msp"),
        mandate_id=mandate.id,
        platform_id=mandate.platform_id,
        payee_id=payee.id,
        amount_minor=body.amount_minor,
        fee_minor=fee,
        reference=body.reference,
        day=day,
        created_by=actor.id,
        created_at=now,
    )
    await _pay(
        session, mandate, spent.id, wallet=payee.wallet_id, amount=body.amount_minor, fee=fee, actor=actor, now=now
    )
    payee.spent_minor += body.amount_minor
    await repository.add(session, spent)
    data = {"spend_id": spent.id, "payee_id": payee.id, "amount_minor": spent.amount_minor, "fee_minor": fee}
    await _paid(session, mandate, "mandate.spend_succeeded", actor=actor, now=now, data=data)
    return spent


async def _fee(session: AsyncSession, mandate: Mandate, amount_minor: int) -> int:
    return await platforms_service.fee_of_platform(
        session, platform_id=mandate.platform_id, currency=mandate.currency, amount_minor=amount_minor
    )


async def _pay(
    session: AsyncSession,
    mandate: Mandate,
    payment_id: str,
    *,
    wallet: str,
    amount: int,
    fee: int,
    actor: Actor,
    now: datetime,
) -> None:
    """One journal entry out of the mandate's account: ``<payment>.pay`` to the wallet, ``<payment>.fee``."""
    described = {"mandate_id": mandate.id, "payment_id": payment_id}
    legs = []
    if amount > fee:
        legs.append(
            await wallets_service.credit_leg(
                session,
                wallet_id=wallet,
                from_account_id=mandate.account_id,
                amount_minor=amount - fee,
                code=PAY_CODE,
                transfer_id=f"{payment_id}.pay",
                metadata=described,
            )
        )
    if fee:
        legs.append(
            await wallets_service.fee_leg(
                session,
                platform_id=mandate.platform_id,
                currency=mandate.currency,
                from_account_id=mandate.account_id,
                amount_minor=fee,
                transfer_id=f"{payment_id}.fee",
                metadata=described,
                actor=actor,
                now=now,
            )
        )
    await ledger_service.create_journal_entry(session, legs=legs, journal_id=payment_id, now=now, actor=actor)
    mandate.spent_minor += amount
    mandate.updated_at = now


async def _paid(
    session: AsyncSession, mandate: Mandate, type: str, *, actor: Actor, now: datetime, data: dict[str, Any]
) -> None:
    """The receipt (to the sender), the audit row, and the mandate's end if nothing is left."""
    if not announce.remaining(mandate):
        mandate.status = MandateStatus.consumed.value
        mandate.ended_at = now
    await session.flush()
    await announce.event(session, mandate, type, now=now, data=data, party_id=mandate.sender_party_id)
    await announce.audit(session, mandate, type, actor=actor, data=data)
    if mandate.status == MandateStatus.consumed.value:
        await announce.event(session, mandate, "mandate.consumed", now=now, data={"spent_minor": mandate.spent_minor})
