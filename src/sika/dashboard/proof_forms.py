"""The review queue's decision form: what it posts, turned into the proofs service's
``decide`` (which checks the proof is still waiting, releases the milestone on
approval, writes the events and the audit row, all in the same transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from sika.core import clock, errors
from sika.core.context import Actor
from sika.dashboard.escrow_forms import FormRefused
from sika.proofs import service as proofs_service
from sika.proofs.states import Decision

MAX_REASON_CHARACTERS = 1000


async def decide(session: AsyncSession, form: FormData, *, proof_id: str, actor: Actor) -> Decision:
    """Approve or reject the proof as the form says; FormRefused otherwise."""
    reason, decision = form.get("reason"), form.get("decision")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= MAX_REASON_CHARACTERS:
        raise FormRefused("error.proof_decision_invalid", 400)
    if decision not in (Decision.approve.value, Decision.reject.value):
        raise FormRefused("error.proof_decision_invalid", 400)
    try:
        await proofs_service.decide(
            session, proof_id=proof_id, decision=Decision(decision), reason=reason.strip(), actor=actor, now=clock.now()
        )
    except errors.NotFound:
        raise FormRefused("error.not_found", 404) from None
    except errors.SikaError as refused:
        raise FormRefused("error.proof_decision_refused", refused.status) from None
    return Decision(decision)
