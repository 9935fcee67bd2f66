"""Milestones released on proof of delivery (``sika.proofs`` calls these; escrow
knows nothing of proofs). A milestone may require a proof: the minute job then
leaves it delivered past its ``release_at`` instead of releasing it, until a
proof is approved (or the client approves it, or disputes it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import repository
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.service import announce
from sika.escrow.service.access import Role, locked, require_escrow
from sika.escrow.service.errors import EscrowStateConflict, MilestoneNotFound, MilestoneStateConflict
from sika.escrow.service.milestones import pay
from sika.escrow.states import FINAL_ESCROW, FINAL_MILESTONE, EscrowStatus, MilestoneStatus


@dataclass(frozen=True)
class LockedMilestone:
    """A milestone and its escrow, both locked until the transaction ends."""

    escrow: Escrow
    milestone: EscrowMilestone
    milestones: list[EscrowMilestone]


async def lock_milestone(
    session: AsyncSession, *, escrow_id: str, number: int, actor: Actor, as_beneficiary: bool
) -> LockedMilestone:
    """Milestone ``number`` locked (escrow first, as every escrow mutation), once ``actor``
    may read the escrow, or act as its beneficiary when ``as_beneficiary``."""
    role = Role.beneficiary if as_beneficiary else None
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=role, action="prove a delivery")
    milestones = await repository.milestones(session, escrow.id, for_update=True)
    found = next((m for m in milestones if m.number == number), None)
    if found is None:
        raise MilestoneNotFound(f"Escrow {escrow.id} has no milestone {number}.")
    return LockedMilestone(escrow=escrow, milestone=found, milestones=milestones)


def require_delivered(locked_milestone: LockedMilestone, action: str) -> None:
    """The escrow funded and the milestone delivered (what a proof proves); 409 otherwise."""
    require_escrow(locked_milestone.escrow, EscrowStatus.funded, action)
    milestone = locked_milestone.milestone
    if milestone.status != MilestoneStatus.delivered.value:
        raise MilestoneStateConflict(
            f"Milestone {milestone.number} of escrow {milestone.escrow_id} is {milestone.status}: cannot {action}.",
            status=milestone.status,
        )


async def set_proof_required(
    session: AsyncSession, held: LockedMilestone, *, required: bool, actor: Actor, now: datetime
) -> None:
    """Whether the minute job waits for a proof before releasing the milestone; only
    while the escrow and the milestone are still open."""
    escrow, milestone = held.escrow, held.milestone
    if EscrowStatus(escrow.status) in FINAL_ESCROW:
        raise EscrowStateConflict(f"Escrow {escrow.id} is {escrow.status}: its rules are final.", status=escrow.status)
    if MilestoneStatus(milestone.status) in FINAL_MILESTONE:
        raise MilestoneStateConflict(
            f"Milestone {milestone.number} of escrow {escrow.id} is {milestone.status}: its rules are final.",
            status=milestone.status,
        )
    if milestone.proof_required == required:
        return
    milestone.proof_required = required
    escrow.updated_at = now
    await session.flush()
    data = {"number": milestone.number, "proof_required": required}
    await announce.audit(session, escrow, "escrow.milestone_proof_required", actor=actor, data=data)


async def release_proven(session: AsyncSession, held: LockedMilestone, *, actor: Actor, now: datetime) -> None:
    """Release the delivered milestone in full, its proof approved (the escrow's own
    release: one journal entry, its events, the escrow closed if it was the last)."""
    require_delivered(held, f"release milestone {held.milestone.number} on proof")
    milestone = held.milestone
    await pay(session, held.escrow, milestone, held.milestones, release=milestone.amount_minor, actor=actor, now=now)
