"""Mandates: creating one (its amount moved at once from the sender's wallet into
the mandate's own account), reading them, topping one up, and naming the payees
it may pay within limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.mandates import repository, schemas
from sika.mandates.models import MANDATE_ACCOUNT_KIND, Mandate, MandatePayee, MandatePurchase
from sika.mandates.service import announce
from sika.mandates.service.access import MandateView, Role, as_platform, locked_active, readable
from sika.mandates.service.errors import (
    MandateCatalogueUnknown,
    MandateExists,
    MandateExpiryInvalid,
    MandatePartiesInvalid,
    MandatePartyHasNoWallet,
    PayeeExists,
)
from sika.mandates.states import MandateStatus
from sika.parties import service as parties_service
from sika.platforms import service as platforms_service
from sika.wallets import service as wallets_service

TOP_UP_CODE = "mandate.top_up"


async def today(session: AsyncSession, *, platform_id: str, now: datetime) -> date:
    """The day of daily limits: ``now`` in the platform's time zone."""
    platform = await platforms_service.get_platform(session, platform_id=platform_id)
    return now.astimezone(ZoneInfo(platforms_service.settings_of(platform).time_zone)).date()


async def views(session: AsyncSession, mandates: Sequence[Mandate], *, now: datetime) -> list[MandateView]:
    found = await repository.payees(session, [mandate.id for mandate in mandates])
    shown = []
    for mandate in mandates:
        payees = found[mandate.id]
        day = await today(session, platform_id=mandate.platform_id, now=now)
        spent = await repository.spent_on(session, [payee.id for payee in payees], day) if payees else {}
        shown.append(MandateView(mandate=mandate, payees=payees, spent_today=spent))
    return shown


async def _view(session: AsyncSession, mandate: Mandate, *, now: datetime) -> MandateView:
    return (await views(session, [mandate], now=now))[0]


async def wallet_of(session: AsyncSession, *, party_id: str, currency: str, actor: Actor) -> str:
    found = await wallets_service.party_wallet_id(session, party_id=party_id, currency=currency, actor=actor)
    if found is None:
        raise MandatePartyHasNoWallet(f"Party {party_id} has no {currency} wallet: open it first.")
    return found


async def _check_catalogue(session: AsyncSession, body: schemas.MandateCreate, *, platform_id: str) -> None:
    for category_id in body.allowed_category_ids:
        category = await repository.category(session, category_id)
        if category is None or category.platform_id != platform_id:
            raise MandateCatalogueUnknown(f"No spend category {category_id} on this platform.")
    for merchant_id in body.allowed_merchant_ids:
        merchant = await repository.merchant(session, merchant_id)
        if merchant is None or merchant.platform_id != platform_id:
            raise MandateCatalogueUnknown(f"No merchant {merchant_id} on this platform.")


async def create_mandate(
    session: AsyncSession, *, body: schemas.MandateCreate, actor: Actor, now: datetime
) -> MandateView:
    """An active mandate holding ``amount_minor`` taken from the sender's wallet.
    Refused with nothing moved: a party token naming another sender, an expiry
    not in the future, an unknown category or merchant, a party without a wallet
    in the currency, an active mandate for the same pair, InsufficientFunds."""
    sender = await parties_service.get_party(session, party_id=body.sender_party_id, actor=actor)
    beneficiary = await parties_service.get_party(session, party_id=body.beneficiary_party_id, actor=as_platform(actor))
    if sender.id == beneficiary.id or sender.platform_id != beneficiary.platform_id:
        raise MandatePartiesInvalid()
    if body.expires_at <= now:
        raise MandateExpiryInvalid(f"expires_at {body.expires_at.isoformat()} is not in the future.")
    await _check_catalogue(session, body, platform_id=sender.platform_id)
    sender_wallet = await wallet_of(session, party_id=sender.id, currency=body.currency, actor=actor)
    if await repository.active_between(session, sender=sender.id, beneficiary=beneficiary.id, currency=body.currency):
        raise MandateExists(f"Sender {sender.id} already has an active {body.currency} mandate for {beneficiary.id}.")
    account = await ledger_service.create_account(
        session,
        currency=body.currency,
        kind=MANDATE_ACCOUNT_KIND,
        # The sender's: the money is theirs until it is spent where they allowed, or comes back.
        owner_type="party",
        owner_id=sender.id,
        debits_must_not_exceed_credits=True,
        managed=True,
        platform_id=sender.platform_id,
        now=now,
        actor=actor,
    )
    mandate = Mandate(
        id=ids.new_id("man"),
        platform_id=sender.platform_id,
        sender_party_id=sender.id,
        beneficiary_party_id=beneficiary.id,
        sender_wallet_id=sender_wallet,
        account_id=account.id,
        currency=body.currency,
        funded_minor=body.amount_minor,
        spent_minor=0,
        returned_minor=0,
        top_up_count=0,
        status=MandateStatus.active.value,
        allowed_category_ids=list(dict.fromkeys(body.allowed_category_ids)),
        allowed_merchant_ids=list(dict.fromkeys(body.allowed_merchant_ids)),
        certified_only=body.certified_only,
        max_purchase_minor=body.max_purchase_minor,
        expires_at=body.expires_at,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, mandate)
    transfer = await _pay_in(session, mandate, amount_minor=body.amount_minor, number=0, actor=actor, now=now)
    data = {"amount_minor": body.amount_minor, "currency": body.currency, "transfer_id": transfer.id}
    await announce.event(session, mandate, "mandate.created", now=now, data=data)
    await announce.audit(session, mandate, "mandate.created", actor=actor, data=data)
    return await _view(session, mandate, now=now)


async def _pay_in(
    session: AsyncSession, mandate: Mandate, *, amount_minor: int, number: int, actor: Actor, now: datetime
) -> ledger_service.TransferRecord:
    """From the sender's wallet into the mandate: ``<id>.fund`` at creation, ``<id>.top_up.<n>`` after."""
    return await wallets_service.debit_to_account(
        session,
        wallet_id=mandate.sender_wallet_id,
        account_id=mandate.account_id,
        amount_minor=amount_minor,
        code=TOP_UP_CODE,
        transfer_id=f"{mandate.id}.top_up.{number}" if number else f"{mandate.id}.fund",
        metadata={"mandate_id": mandate.id},
        actor=actor,
        now=now,
    )


async def get_mandate(session: AsyncSession, *, mandate_id: str, actor: Actor, now: datetime) -> MandateView:
    return await _view(session, await readable(session, mandate_id=mandate_id, actor=actor), now=now)


async def list_mandates(
    session: AsyncSession,
    *,
    party_id: str | None,
    status: MandateStatus | None,
    page: paging.Page,
    actor: Actor,
    now: datetime,
) -> list[MandateView]:
    """Newest first; a party token lists only the mandates its party sends or receives."""
    if actor.is_party:
        parties_service.check_owner(actor, party_id or actor.party_id or "")
        party_id = actor.party_id
    found = await repository.list_mandates(
        session, party_id=party_id, status=status.value if status else None, page=page
    )
    return await views(session, found, now=now)


async def top_up(
    session: AsyncSession, *, mandate_id: str, amount_minor: int, actor: Actor, now: datetime
) -> MandateView:
    """More money from the sender's wallet into an active mandate."""
    mandate = await locked_active(
        session, mandate_id=mandate_id, actor=actor, role=Role.sender, action="top it up", now=now
    )
    number = mandate.top_up_count + 1
    transfer = await _pay_in(session, mandate, amount_minor=amount_minor, number=number, actor=actor, now=now)
    mandate.funded_minor += amount_minor
    mandate.top_up_count = number
    mandate.updated_at = now
    await session.flush()
    data = {"amount_minor": amount_minor, "funded_minor": mandate.funded_minor, "transfer_id": transfer.id}
    await announce.event(session, mandate, "mandate.topped_up", now=now, data=data)
    await announce.audit(session, mandate, "mandate.topped_up", actor=actor, data=data)
    return await _view(session, mandate, now=now)


async def add_payee(
    session: AsyncSession, *, mandate_id: str, body: schemas.PayeeCreate, actor: Actor, now: datetime
) -> MandateView:
    """The sender (or the platform) allows a payee, within a daily and/or a total limit."""
    mandate = await locked_active(
        session, mandate_id=mandate_id, actor=actor, role=Role.sender, action="add a payee", now=now
    )
    if body.party_id in (mandate.sender_party_id, mandate.beneficiary_party_id):
        raise MandatePartiesInvalid("A payee is a third party: neither the sender nor the beneficiary.")
    if await repository.payee_of_party(session, mandate_id=mandate.id, party_id=body.party_id) is not None:
        raise PayeeExists(f"Party {body.party_id} is already a payee of mandate {mandate.id}.")
    wallet = await wallet_of(session, party_id=body.party_id, currency=mandate.currency, actor=as_platform(actor))
    payee = MandatePayee(
        id=ids.new_id("mpy"),
        mandate_id=mandate.id,
        platform_id=mandate.platform_id,
        party_id=body.party_id,
        wallet_id=wallet,
        daily_limit_minor=body.daily_limit_minor,
        total_limit_minor=body.total_limit_minor,
        spent_minor=0,
        created_at=now,
    )
    await repository.add(session, payee)
    mandate.updated_at = now
    data = {
        "payee_id": payee.id,
        "party_id": payee.party_id,
        "daily_limit_minor": payee.daily_limit_minor,
        "total_limit_minor": payee.total_limit_minor,
    }
    await announce.audit(session, mandate, "mandate.payee_added", actor=actor, data=data)
    return await _view(session, mandate, now=now)


async def list_purchases(
    session: AsyncSession, *, mandate_id: str, page: paging.Page, actor: Actor
) -> Sequence[MandatePurchase]:
    """The mandate's purchases, newest first (its sender and its beneficiary may read them)."""
    mandate = await readable(session, mandate_id=mandate_id, actor=actor)
    return await repository.list_purchases(session, mandate_id=mandate.id, page=page)
