"""What the minute job does: release the delivered milestones whose time has come
and refund the pending ones past their deadline, one bounded batch of escrows
per transaction.

The batch is the funded escrows with a milestone due, locked ``FOR UPDATE SKIP
LOCKED``: any number of workers take disjoint batches without waiting for each
other, and an escrow a request holds (an approval, a dispute) is left for the
next run, which then finds its milestone no longer due. Every ledger account
the batch may credit is locked first, in the ledger's order, so two batches
paying the same beneficiary or the same fee account take turns instead of
deadlocking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import repository
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.service.milestones import pay
from sika.escrow.states import MILESTONE_MOVES, MilestoneAction, MilestoneStatus
from sika.ledger import service as ledger_service
from sika.wallets import service as wallets_service

DUE_BATCH_SIZE = 50
"""Escrows settled per transaction."""


@dataclass(frozen=True)
class Settled:
    escrows: int
    """Escrows locked in this batch: fewer than the batch size means none are left."""
    released: int
    refunded: int


def _is_due(milestone: EscrowMilestone, now: datetime) -> MilestoneStatus | None:
    """What the milestone becomes now, if it is due: released or refunded."""
    releasable = milestone.status == MILESTONE_MOVES[MilestoneAction.release_due].value
    # One that requires a proof waits for it (sika.escrow.service.proven).
    releasable = releasable and not milestone.proof_required
    if releasable and milestone.release_at is not None and milestone.release_at <= now:
        return MilestoneStatus.released
    refundable = milestone.status == MILESTONE_MOVES[MilestoneAction.refund_due].value
    if refundable and milestone.deliver_by is not None and milestone.deliver_by <= now:
        return MilestoneStatus.refunded
    return None


async def _lock_accounts(session: AsyncSession, escrows: list[Escrow], *, actor: Actor, now: datetime) -> None:
    fee_accounts = [
        await wallets_service.ensure_fee_account(
            session, platform_id=platform_id, currency=currency, actor=actor, now=now
        )
        for platform_id, currency in sorted({(e.platform_id, e.currency) for e in escrows if e.fee_minor})
    ]
    wallets = [wallet for e in escrows for wallet in (e.client_wallet_id, e.beneficiary_wallet_id)]
    accounts = [e.account_id for e in escrows] + await wallets_service.wallet_account_ids(session, wallets)
    await ledger_service.lock_accounts(session, account_ids=accounts + fee_accounts)


async def settle_due(session: AsyncSession, *, now: datetime, actor: Actor, limit: int = DUE_BATCH_SIZE) -> Settled:
    """One batch: each due milestone of up to ``limit`` escrows released or refunded, once."""
    escrows = await repository.lock_due(session, now=now, limit=limit)
    if not escrows:
        return Settled(escrows=0, released=0, refunded=0)
    await _lock_accounts(session, escrows, actor=actor, now=now)
    released = refunded = 0
    for escrow in escrows:
        milestones = await repository.milestones(session, escrow.id, for_update=True)
        for milestone in milestones:
            becomes = _is_due(milestone, now)
            if becomes is None:
                continue
            release = milestone.amount_minor if becomes is MilestoneStatus.released else 0
            await pay(session, escrow, milestone, milestones, release=release, actor=actor, now=now)
            released += becomes is MilestoneStatus.released
            refunded += becomes is MilestoneStatus.refunded
    return Settled(escrows=len(escrows), released=released, refunded=refunded)
