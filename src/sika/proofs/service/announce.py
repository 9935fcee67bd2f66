"""A proof's events and audit rows, written in the transaction of the change they tell of.
Its events name the escrow's beneficiary as their party: they tell the one who sent the proof."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core.context import Actor
from sika.events import service as events_service
from sika.proofs.models import Proof


def summary(proof: Proof) -> dict[str, Any]:
    return {
        "proof_id": proof.id,
        "escrow_id": proof.escrow_id,
        "number": proof.milestone_number,
        "status": proof.status,
        "reasons": list(proof.reasons),
    }


async def told(
    session: AsyncSession, proof: Proof, type: str, *, beneficiary: str, actor: Actor, now: datetime, **data: Any
) -> None:
    """The event ``type`` (``proof.<past tense>``) and its audit row."""
    described = {**summary(proof), **data}
    await events_service.emit(
        session,
        type=type,
        entity_type="proof",
        entity_id=proof.id,
        data=described,
        party_id=beneficiary,
        platform_id=proof.platform_id,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=proof.platform_id,
        action=type,
        entity_type="proof",
        entity_id=proof.id,
        data=described,
    )
