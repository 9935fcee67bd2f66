"""Proof queries. A proof's row is locked only after its escrow (``escrow_service.lock_milestone``),
as every escrow mutation locks, so a decision and the escrow's own moves take turns."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.proofs.models import Proof, ProofRule
from sika.proofs.states import ProofStatus


async def add(session: AsyncSession, *rows: Proof | ProofRule) -> None:
    session.add_all(rows)
    await session.flush()


async def rule(session: AsyncSession, escrow_id: str, number: int) -> ProofRule | None:
    return await session.get(ProofRule, (escrow_id, number))


async def get(session: AsyncSession, proof_id: str, *, for_update: bool = False) -> Proof | None:
    query = sa.select(Proof).where(Proof.id == proof_id)
    if for_update:
        # Read again under the lock: the row may have changed since this session first loaded it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def by_sha256(session: AsyncSession, *, platform_id: str, sha256: str) -> Proof | None:
    """The platform's proof with these bytes (said explicitly: an operator's session sees every platform)."""
    return await session.scalar(sa.select(Proof).where(Proof.platform_id == platform_id, Proof.sha256 == sha256))


async def of_milestone(session: AsyncSession, escrow_id: str, number: int, page: paging.Page) -> Sequence[Proof]:
    query = sa.select(Proof).where(Proof.escrow_id == escrow_id, Proof.milestone_number == number)
    return (await session.scalars(paging.paged(query, Proof.seq, page))).all()


async def pending(session: AsyncSession, *, limit: int) -> Sequence[Proof]:
    """Proofs waiting for an operator, oldest first."""
    query = sa.select(Proof).where(Proof.status == ProofStatus.pending_review.value).order_by(Proof.seq).limit(limit)
    return (await session.scalars(query)).all()
