"""Milestones: delivered by the beneficiary, approved or disputed by the client,
resolved by an operator, and paid out of the escrow's account.

A milestone's money leaves the escrow in one journal entry: released, to the
beneficiary's wallet less the milestone's fee and the fee to the platform's fee
account; refunded, to the client's wallet; or both, when an operator splits
it. Its ledger transfer ids are derived from the escrow and the milestone
(``<escrow id>.m<n>.release``, ``.fee``, ``.refund``), so the ledger itself
refuses to move a milestone twice. With ``auto_payout``, a release defers the
payout of its net amount in its transaction (``sika.escrow.service.payout``).
Once every milestone has ended, the escrow closes
(``sika.escrow.states.closing_status``) and says so (``escrow.completed``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.service import announce
from sika.escrow.service.access import EscrowView, Role, locked, locked_milestone
from sika.escrow.service.errors import MilestoneDeadlinePassed, ResolutionDoesNotAddUp
from sika.escrow.service.payout import defer_payout, released_to
from sika.escrow.states import MilestoneAction, MilestoneStatus, closing_status
from sika.ledger import service as ledger_service
from sika.wallets import service as wallets_service

RELEASE_CODE = "escrow.release"
REFUND_CODE = "escrow.refund"


async def deliver(session: AsyncSession, *, escrow_id: str, number: int, actor: Actor, now: datetime) -> EscrowView:
    """The beneficiary says milestone ``number`` is delivered: it is released at
    ``release_at`` unless the client approves or disputes it first."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.beneficiary, action="deliver")
    milestone, milestones = await locked_milestone(session, escrow, number=number, action=MilestoneAction.deliver)
    if milestone.deliver_by is not None and milestone.deliver_by <= now:
        raise MilestoneDeadlinePassed(
            f"Milestone {number} of escrow {escrow.id} was due by {milestone.deliver_by.isoformat()}."
        )
    milestone.status = MilestoneStatus.delivered.value
    milestone.delivered_at = now
    milestone.release_at = now + timedelta(seconds=escrow.release_after_delivery_seconds)
    data = {"number": number, "release_at": milestone.release_at.isoformat()}
    await _changed(session, escrow, "escrow.milestone_delivered", actor=actor, now=now, data=data)
    return EscrowView(escrow=escrow, milestones=milestones)


async def approve(session: AsyncSession, *, escrow_id: str, number: int, actor: Actor, now: datetime) -> EscrowView:
    """The client confirms delivery: the milestone is released now."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.client, action="approve")
    milestone, milestones = await locked_milestone(session, escrow, number=number, action=MilestoneAction.approve)
    await pay(session, escrow, milestone, milestones, release=milestone.amount_minor, actor=actor, now=now)
    return EscrowView(escrow=escrow, milestones=milestones)


async def dispute(
    session: AsyncSession, *, escrow_id: str, number: int, reason: str, actor: Actor, now: datetime
) -> EscrowView:
    """The client disputes a delivered milestone before its release: the clock stops
    until an operator resolves it."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.client, action="dispute")
    milestone, milestones = await locked_milestone(session, escrow, number=number, action=MilestoneAction.dispute)
    milestone.status = MilestoneStatus.disputed.value
    milestone.release_at = None
    milestone.disputed_at = now
    milestone.dispute_reason = reason
    await _changed(session, escrow, "escrow.disputed", actor=actor, now=now, data={"number": number, "reason": reason})
    return EscrowView(escrow=escrow, milestones=milestones)


async def resolve(
    session: AsyncSession,
    *,
    escrow_id: str,
    number: int,
    release_minor: int,
    refund_minor: int,
    note: str,
    actor: Actor,
    now: datetime,
) -> EscrowView:
    """An operator ends a dispute: ``release_minor`` to the beneficiary (less the same
    share of the fee), ``refund_minor`` to the client, adding up to the milestone's amount."""
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=None, action="resolve")
    milestone, milestones = await locked_milestone(session, escrow, number=number, action=MilestoneAction.resolve)
    if release_minor + refund_minor != milestone.amount_minor:
        raise ResolutionDoesNotAddUp(
            f"{release_minor} + {refund_minor} is not milestone {number}'s amount, {milestone.amount_minor}."
        )
    milestone.resolution_note = note
    milestone.resolved_by = actor.id
    data = {"number": number, "release_minor": release_minor, "refund_minor": refund_minor, "note": note}
    await announce.event(session, escrow, "escrow.dispute_resolved", now=now, data=data)
    await pay(session, escrow, milestone, milestones, release=release_minor, actor=actor, now=now)
    return EscrowView(escrow=escrow, milestones=milestones)


async def pay(
    session: AsyncSession,
    escrow: Escrow,
    milestone: EscrowMilestone,
    milestones: list[EscrowMilestone],
    *,
    release: int,
    actor: Actor,
    now: datetime,
) -> None:
    """Pay the milestone out of the escrow: ``release`` to the beneficiary (its share
    of the fee to the platform), the rest of its amount back to the client; then
    close the escrow if this was its last open milestone. Both rows are locked."""
    refund = milestone.amount_minor - release
    fee = milestone.fee_minor * release // milestone.amount_minor
    entry = await ledger_service.create_journal_entry(
        session,
        legs=await _legs(session, escrow, milestone, release=release, fee=fee, refund=refund, actor=actor, now=now),
        journal_id=f"{escrow.id}.m{milestone.number}",
        now=now,
        actor=actor,
    )
    milestone.released_minor, milestone.fee_paid_minor, milestone.refunded_minor = release, fee, refund
    milestone.status = (
        MilestoneStatus.divided.value
        if release and refund
        else (MilestoneStatus.released.value if release else MilestoneStatus.refunded.value)
    )
    milestone.release_at = None
    milestone.completed_at = now
    escrow.released_minor += release
    escrow.refunded_minor += refund
    data: dict[str, Any] = {"number": milestone.number, "journal_id": entry.id}
    if release:
        await defer_payout(session, escrow, milestone)
        released = {**data, "released_minor": release, "fee_minor": fee, "released_to": released_to(escrow)}
        await announce.event(session, escrow, "escrow.milestone_released", now=now, data=released)
    if refund:
        await announce.event(
            session, escrow, "escrow.milestone_refunded", now=now, data={**data, "refunded_minor": refund}
        )
    await _changed(
        session, escrow, f"escrow.milestone_{milestone.status}", actor=actor, now=now, data=data, event=False
    )
    await _close_if_done(session, escrow, milestones, actor=actor, now=now)


async def _legs(
    session: AsyncSession,
    escrow: Escrow,
    milestone: EscrowMilestone,
    *,
    release: int,
    fee: int,
    refund: int,
    actor: Actor,
    now: datetime,
) -> list[ledger_service.Leg]:
    prefix = f"{escrow.id}.m{milestone.number}"
    described = {"escrow_id": escrow.id, "milestone": milestone.number}
    legs = []
    if release > fee:
        legs.append(
            await wallets_service.credit_leg(
                session,
                wallet_id=escrow.beneficiary_wallet_id,
                from_account_id=escrow.account_id,
                amount_minor=release - fee,
                code=RELEASE_CODE,
                transfer_id=f"{prefix}.release",
                metadata=described,
            )
        )
    if fee:
        legs.append(
            await wallets_service.fee_leg(
                session,
                platform_id=escrow.platform_id,
                currency=escrow.currency,
                from_account_id=escrow.account_id,
                amount_minor=fee,
                transfer_id=f"{prefix}.fee",
                metadata=described,
                actor=actor,
                now=now,
            )
        )
    if refund:
        legs.append(
            await wallets_service.credit_leg(
                session,
                wallet_id=escrow.client_wallet_id,
                from_account_id=escrow.account_id,
                amount_minor=refund,
                code=REFUND_CODE,
                transfer_id=f"{prefix}.refund",
                metadata=described,
            )
        )
    return legs


async def _changed(
    session: AsyncSession,
    escrow: Escrow,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    data: dict[str, Any],
    event: bool = True,
) -> None:
    """Record a change of the escrow or one of its milestones: the rows, its event, its audit row."""
    escrow.updated_at = now
    await session.flush()
    if event:
        await announce.event(session, escrow, action, now=now, data=data)
    await announce.audit(session, escrow, action, actor=actor, data=data)


async def _close_if_done(
    session: AsyncSession, escrow: Escrow, milestones: list[EscrowMilestone], *, actor: Actor, now: datetime
) -> None:
    final = closing_status([(MilestoneStatus(m.status), m.released_minor, m.refunded_minor) for m in milestones])
    if final is None:
        return
    escrow.status = final.value
    escrow.completed_at = now
    data = {
        "released_minor": escrow.released_minor,
        "refunded_minor": escrow.refunded_minor,
        "released_to": released_to(escrow),
    }
    await _changed(session, escrow, "escrow.completed", actor=actor, now=now, data=data)
