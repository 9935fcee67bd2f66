"""A milestone's proof rule: set by the platform while the milestone is open, read by
whoever may read its escrow. Whether a proof is required is also told to the escrow
(``escrow_service.set_proof_required``), whose minute job must wait for one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import service as escrow_service
from sika.proofs import repository, schemas
from sika.proofs.models import ProofRule
from sika.proofs.service.errors import ProofRuleNotFound


async def set_rule(
    session: AsyncSession, *, escrow_id: str, number: int, body: schemas.ProofRuleIn, actor: Actor, now: datetime
) -> ProofRule:
    held = await escrow_service.lock_milestone(
        session, escrow_id=escrow_id, number=number, actor=actor, as_beneficiary=False
    )
    await escrow_service.set_proof_required(session, held, required=body.required, actor=actor, now=now)
    fence = body.geofence
    fields = {
        "required": body.required,
        "latitude": fence.latitude if fence else None,
        "longitude": fence.longitude if fence else None,
        "radius_m": fence.radius_m if fence else None,
        "max_age_seconds": body.max_age_seconds,
        "auto_approve": body.auto_approve if body.auto_approve is not None else fence is not None,
    }
    rule = await repository.rule(session, held.escrow.id, number)
    if rule is None:
        rule = ProofRule(
            escrow_id=held.escrow.id,
            number=number,
            platform_id=held.escrow.platform_id,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
            **fields,
        )
        await repository.add(session, rule)
    else:
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.updated_at = now
        await session.flush()
    return rule


async def get_rule(session: AsyncSession, *, escrow_id: str, number: int, actor: Actor) -> ProofRule:
    escrow = await escrow_service.get_escrow(session, escrow_id=escrow_id, actor=actor)
    rule = await repository.rule(session, escrow.escrow.id, number)
    if rule is None:
        raise ProofRuleNotFound(f"Milestone {number} of escrow {escrow_id} declares no proof rule.")
    return rule


def rule_out(rule: ProofRule) -> schemas.ProofRuleOut:
    fence = None
    if rule.latitude is not None and rule.longitude is not None and rule.radius_m is not None:
        fence = schemas.Geofence(latitude=rule.latitude, longitude=rule.longitude, radius_m=rule.radius_m)
    return schemas.ProofRuleOut(
        escrow_id=rule.escrow_id,
        number=rule.number,
        required=rule.required,
        geofence=fence,
        max_age_seconds=rule.max_age_seconds,
        auto_approve=rule.auto_approve,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )
