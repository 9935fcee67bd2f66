"""An operator's decision on a proof waiting for review: approved, it releases its
milestone (if no other approval or the client did first); rejected, the milestone
stays delivered and unproven, and the beneficiary is told (``proof.rejected``).

The escrow is locked first, then the proof, as every escrow mutation locks; the
proof must still be ``pending_review`` (two operators deciding at once: the second
is refused ``proof_already_decided``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import service as escrow_service
from sika.escrow.states import MilestoneStatus
from sika.proofs import repository
from sika.proofs.models import Proof
from sika.proofs.service import announce
from sika.proofs.service.errors import ProofAlreadyDecided, ProofNotFound
from sika.proofs.states import Decision, ProofStatus


async def decide(
    session: AsyncSession, *, proof_id: str, decision: Decision, reason: str, actor: Actor, now: datetime
) -> Proof:
    found = await repository.get(session, proof_id)
    if found is None:
        raise ProofNotFound()
    held = await escrow_service.lock_milestone(
        session, escrow_id=found.escrow_id, number=found.milestone_number, actor=actor, as_beneficiary=False
    )
    proof = await repository.get(session, proof_id, for_update=True)
    if proof is None:
        raise ProofNotFound()
    if proof.status != ProofStatus.pending_review.value:
        raise ProofAlreadyDecided(f"Proof {proof.id} is {proof.status}.", status=proof.status)
    release = decision is Decision.approve and held.milestone.status != MilestoneStatus.released.value
    if release:
        # Refused (409) unless the milestone is delivered: a disputed or refunded one is not released by a photo.
        await escrow_service.release_proven(session, held, actor=actor, now=now)
    proof.status = (ProofStatus.approved if decision is Decision.approve else ProofStatus.rejected).value
    proof.released = release
    proof.decided_by = actor.id
    proof.decided_at = now
    proof.decision_reason = reason
    await session.flush()
    beneficiary = held.escrow.beneficiary_party_id
    event = "proof.approved" if decision is Decision.approve else "proof.rejected"
    await announce.told(
        session, proof, event, beneficiary=beneficiary, actor=actor, now=now, released=release, reason=reason
    )
    return proof
