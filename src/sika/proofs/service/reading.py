"""Reading proofs: whoever may read the escrow sees its proofs; where a photo was
taken (its GPS position and the rest of its EXIF) and the file itself only the
escrow's parties, the platform and operators (``sees_location``), not a read-only key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sika.auth.scopes import Scope
from sika.core import paging
from sika.core.context import Actor
from sika.escrow import service as escrow_service
from sika.proofs import repository
from sika.proofs.models import Proof
from sika.proofs.service.errors import ProofNotFound
from sika.proofs.service.storage import ProofStore

REVIEW_QUEUE_SHOWN = 50
"""Proofs the dashboard's review queue shows at once, oldest first."""
_SEE_LOCATION = frozenset({Scope.admin.value, Scope.platform.value, Scope.support.value})


def sees_location(actor: Actor) -> bool:
    """A party of the escrow (already checked by the read), the platform or an operator."""
    return actor.is_party or bool(actor.scopes & _SEE_LOCATION)


async def readable_escrow(session: AsyncSession, *, escrow_id: str, actor: Actor) -> None:
    """NotFound unless ``actor`` may read the escrow (a party only its own)."""
    await escrow_service.get_escrow(session, escrow_id=escrow_id, actor=actor)


async def get_proof(session: AsyncSession, *, proof_id: str, actor: Actor) -> Proof:
    proof = await repository.get(session, proof_id)
    if proof is None:
        raise ProofNotFound()
    await escrow_service.get_escrow(session, escrow_id=proof.escrow_id, actor=actor)
    return proof


async def list_proofs(
    session: AsyncSession, *, escrow_id: str, number: int, actor: Actor, page: paging.Page
) -> Sequence[Proof]:
    await escrow_service.get_escrow(session, escrow_id=escrow_id, actor=actor)
    return await repository.of_milestone(session, escrow_id, number, page)


async def proof_file(session: AsyncSession, *, proof_id: str, actor: Actor, store: ProofStore) -> tuple[Proof, bytes]:
    """The proof and its file's bytes, for those who may see where it was taken."""
    proof = await get_proof(session, proof_id=proof_id, actor=actor)
    if not sees_location(actor):
        raise ProofNotFound()
    return proof, await store.read(proof.sha256)


@dataclass(frozen=True)
class Pending:
    proof: Proof
    escrow: escrow_service.EscrowView


async def review_queue(session: AsyncSession, *, actor: Actor) -> list[Pending]:
    """The proofs waiting for an operator, each with its escrow (the dashboard's queue)."""
    proofs = await repository.pending(session, limit=REVIEW_QUEUE_SHOWN)
    return [
        Pending(proof=proof, escrow=await escrow_service.get_escrow(session, escrow_id=proof.escrow_id, actor=actor))
        for proof in proofs
    ]
