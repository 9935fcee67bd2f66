"""Escrows: creating one, reading them, funding it from the client's wallet, and
cancelling it before it is funded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.core.context import Actor
from sika.escrow import repository, schemas
from sika.escrow.models import ESCROW_ACCOUNT_KIND, Escrow, EscrowMilestone
from sika.escrow.service import announce
from sika.escrow.service.access import EscrowView, Role, locked, readable, require_escrow
from sika.escrow.service.errors import (
    AutoPayoutPhoneRequired,
    DepositExceedsRemaining,
    EscrowFeeTooHigh,
    EscrowPartiesInvalid,
    EscrowPartyHasNoWallet,
    MilestonesDoNotAddUp,
)
from sika.escrow.states import EscrowStatus, MilestoneStatus
from sika.ledger import service as ledger_service
from sika.parties import models as parties_models
from sika.parties import service as parties_service
from sika.payments import service as payments_service
from sika.platforms import service as platforms_service
from sika.wallets import service as wallets_service

DEPOSIT_CODE = "escrow.deposit"
CANCEL_REFUND_CODE = "escrow.cancel_refund"


def split_fee(fee_minor: int, amounts: Sequence[int]) -> list[int]:
    """``fee_minor`` shared over ``amounts`` in proportion (largest remainders get the
    units left over), so the shares add up to the fee and none exceeds its amount."""
    total = sum(amounts)
    shares = [fee_minor * amount // total for amount in amounts]
    left = fee_minor - sum(shares)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (-(fee_minor * amounts[i] % total), i))
    for index in by_remainder[:left]:
        shares[index] += 1
    return shares


async def _wallet_of(session: AsyncSession, *, party_id: str, currency: str, actor: Actor) -> str:
    found = await wallets_service.party_wallet_id(session, party_id=party_id, currency=currency, actor=actor)
    if found is None:
        raise EscrowPartyHasNoWallet(f"Party {party_id} has no {currency} wallet: open it first.")
    return found


async def _fee(session: AsyncSession, *, body: schemas.EscrowCreate, platform_id: str) -> tuple[int, int]:
    """(the fee on the whole escrow, the delay after delivery), from the body or the platform's settings."""
    platform = await platforms_service.get_platform(session, platform_id=platform_id)
    if body.platform_fee_minor is not None:
        fee = body.platform_fee_minor
    else:
        fee = platforms_service.fee_for(platform, currency=body.currency, amount_minor=body.amount_minor)
    if fee > body.amount_minor:
        raise EscrowFeeTooHigh(f"The platform fee {fee} exceeds the escrow's amount {body.amount_minor}.")
    delay = body.release_after_delivery_seconds
    if delay is None:
        delay = platforms_service.settings_of(platform).auto_release_delay_seconds
    return fee, delay


def _auto_payout(
    body: schemas.EscrowCreate, beneficiary: parties_models.Party, payout_providers: Mapping[str, str]
) -> tuple[str | None, str | None, str | None]:
    """(operator, phone, country) of the escrow's auto-payout, all None without one."""
    wanted = body.auto_payout
    if wanted is None:
        return None, None, None
    if body.currency not in payout_providers:
        raise payments_service.NoPayoutProvider(f"No provider is configured to pay out {body.currency}.")
    phone = wanted.phone or beneficiary.phone
    if phone is None:
        raise AutoPayoutPhoneRequired(f"Party {beneficiary.id} has no phone on record: send auto_payout.phone.")
    return wanted.operator.value, phone, wanted.country


async def create_escrow(
    session: AsyncSession,
    *,
    body: schemas.EscrowCreate,
    payout_providers: Mapping[str, str],
    actor: Actor,
    now: datetime,
) -> EscrowView:
    """An escrow awaiting funding, with its milestones and its own ledger account.
    ``payout_providers`` (``PAYOUT_PROVIDERS``) says which currencies an ``auto_payout`` can be paid out in."""
    amounts = [milestone.amount_minor for milestone in body.milestones]
    if sum(amounts) != body.amount_minor:
        raise MilestonesDoNotAddUp(
            f"The milestones add up to {sum(amounts)}; the escrow's amount is {body.amount_minor}."
        )
    client = await parties_service.get_party(session, party_id=body.client_party_id, actor=actor)
    beneficiary = await parties_service.get_party(session, party_id=body.beneficiary_party_id, actor=actor)
    if client.id == beneficiary.id or client.platform_id != beneficiary.platform_id:
        raise EscrowPartiesInvalid()
    fee, delay = await _fee(session, body=body, platform_id=client.platform_id)
    payout_operator, payout_phone, payout_country = _auto_payout(body, beneficiary, payout_providers)
    wallets = [
        await _wallet_of(session, party_id=party.id, currency=body.currency, actor=actor)
        for party in (client, beneficiary)
    ]
    escrow_id = ids.new_id("esc")
    account = await ledger_service.create_account(
        session,
        currency=body.currency,
        kind=ESCROW_ACCOUNT_KIND,
        # The beneficiary's: the party summary counts the money held for them in escrow.
        owner_type="party",
        owner_id=beneficiary.id,
        debits_must_not_exceed_credits=True,
        managed=True,
        platform_id=client.platform_id,
        now=now,
        actor=actor,
    )
    escrow = Escrow(
        id=escrow_id,
        platform_id=client.platform_id,
        client_party_id=client.id,
        beneficiary_party_id=beneficiary.id,
        client_wallet_id=wallets[0],
        beneficiary_wallet_id=wallets[1],
        account_id=account.id,
        currency=body.currency,
        amount_minor=body.amount_minor,
        fee_minor=fee,
        funded_minor=0,
        released_minor=0,
        refunded_minor=0,
        deposit_count=0,
        status=EscrowStatus.awaiting_funding.value,
        release_after_delivery_seconds=delay,
        metadata_=body.metadata,
        payout_operator=payout_operator,
        payout_phone=payout_phone,
        payout_country=payout_country,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    milestones = _milestones(escrow, body.milestones)
    await repository.add(session, escrow)
    await repository.add(session, *milestones)
    await announce.audit(session, escrow, "escrow.created", actor=actor, data=_created(escrow, milestones))
    return EscrowView(escrow=escrow, milestones=milestones)


def _milestones(escrow: Escrow, given: list[schemas.MilestoneCreate]) -> list[EscrowMilestone]:
    """The escrow's milestones, pending, each with its share of the fee."""
    shares = split_fee(escrow.fee_minor, [milestone.amount_minor for milestone in given])
    return [
        EscrowMilestone(
            escrow_id=escrow.id,
            number=number,
            platform_id=escrow.platform_id,
            title=milestone.title,
            amount_minor=milestone.amount_minor,
            fee_minor=share,
            status=MilestoneStatus.pending.value,
            deliver_by=milestone.deliver_by,
            released_minor=0,
            fee_paid_minor=0,
            refunded_minor=0,
        )
        for number, (milestone, share) in enumerate(zip(given, shares, strict=True), start=1)
    ]


def _created(escrow: Escrow, milestones: list[EscrowMilestone]) -> dict[str, Any]:
    return {
        "amount_minor": escrow.amount_minor,
        "currency": escrow.currency,
        "fee_minor": escrow.fee_minor,
        "milestones": len(milestones),
        "account_id": escrow.account_id,
        "auto_payout": escrow.payout_operator is not None,
    }


async def get_escrow(session: AsyncSession, *, escrow_id: str, actor: Actor) -> EscrowView:
    escrow = await readable(session, escrow_id=escrow_id, actor=actor)
    return EscrowView(escrow=escrow, milestones=await repository.milestones(session, escrow.id))


async def list_escrows(
    session: AsyncSession, *, party_id: str | None, status: EscrowStatus | None, page: paging.Page, actor: Actor
) -> list[EscrowView]:
    """Newest first. A party token lists only its own party's escrows."""
    if actor.is_party:
        party_id = party_id or actor.party_id
        parties_service.check_owner(actor, party_id or "")
    escrows = await repository.list_escrows(
        session, party_id=party_id, status=status.value if status else None, page=page
    )
    found = await repository.milestones_of(session, [escrow.id for escrow in escrows])
    return [EscrowView(escrow=escrow, milestones=found[escrow.id]) for escrow in escrows]


async def fund_escrow(
    session: AsyncSession, *, escrow_id: str, amount_minor: int | None, actor: Actor, now: datetime
) -> EscrowView:
    """Deposit from the client's wallet into the escrow's account (what is still
    missing, unless ``amount_minor`` says less); the escrow is ``funded`` once the
    deposits reach its amount. Refused with nothing moved: InsufficientFunds,
    PartySuspended, DepositExceedsRemaining, or a state other than awaiting_funding."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.client, action="fund it")
    await deposit(session, escrow, deposit_of(escrow, amount_minor), source={}, actor=actor, now=now)
    return EscrowView(escrow=escrow, milestones=await repository.milestones(session, escrow.id))


def deposit_of(escrow: Escrow, amount_minor: int | None) -> int:
    """What a deposit of ``amount_minor`` (None: what is missing) puts in, once the escrow
    (locked) may take it: awaiting funding, and no more than it still needs."""
    require_escrow(escrow, EscrowStatus.awaiting_funding, "fund it")
    remaining = escrow.amount_minor - escrow.funded_minor
    wanted = remaining if amount_minor is None else amount_minor
    if wanted > remaining:
        raise DepositExceedsRemaining(f"Escrow {escrow.id} needs {remaining} more; {wanted} offered.")
    return wanted


async def deposit(
    session: AsyncSession, escrow: Escrow, amount_minor: int, *, source: dict[str, Any], actor: Actor, now: datetime
) -> None:
    """Move ``amount_minor`` (``deposit_of``) from the client's wallet into the escrow's
    account, with its event and audit row; ``source`` says where the money came from."""
    number = escrow.deposit_count + 1
    transfer = await wallets_service.debit_to_account(
        session,
        wallet_id=escrow.client_wallet_id,
        account_id=escrow.account_id,
        amount_minor=amount_minor,
        code=DEPOSIT_CODE,
        transfer_id=f"{escrow.id}.deposit.{number}",
        metadata={"escrow_id": escrow.id, "deposit": number, **source},
        actor=actor,
        now=now,
    )
    escrow.funded_minor += amount_minor
    escrow.deposit_count = number
    escrow.updated_at = now
    data = {"amount_minor": amount_minor, "funded_minor": escrow.funded_minor, "transfer_id": transfer.id, **source}
    if escrow.funded_minor == escrow.amount_minor:
        escrow.status = EscrowStatus.funded.value
        await announce.event(session, escrow, "escrow.funded", now=now, data=data)
    await session.flush()
    await announce.audit(session, escrow, "escrow.deposited", actor=actor, data=data)


async def cancel_escrow(session: AsyncSession, *, escrow_id: str, actor: Actor, now: datetime) -> EscrowView:
    """Cancel an escrow not yet funded; what was deposited goes back to the client's wallet."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.client, action="cancel it")
    require_escrow(escrow, EscrowStatus.awaiting_funding, "cancel it")
    data: dict[str, Any] = {"refunded_minor": escrow.funded_minor}
    if escrow.funded_minor:
        transfer = await wallets_service.credit(
            session,
            wallet_id=escrow.client_wallet_id,
            from_account_id=escrow.account_id,
            amount_minor=escrow.funded_minor,
            code=CANCEL_REFUND_CODE,
            transfer_id=f"{escrow.id}.cancel",
            metadata={"escrow_id": escrow.id},
            actor=actor,
            now=now,
        )
        data["transfer_id"] = transfer.id
    escrow.refunded_minor = escrow.funded_minor
    escrow.status = EscrowStatus.cancelled.value
    escrow.updated_at = escrow.completed_at = now
    await session.flush()
    await announce.event(session, escrow, "escrow.cancelled", now=now, data=data)
    await announce.audit(session, escrow, "escrow.cancelled", actor=actor, data=data)
    return EscrowView(escrow=escrow, milestones=await repository.milestones(session, escrow.id))
