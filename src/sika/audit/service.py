"""The audit log: one row per mutation, written in the mutation's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit.models import AuditEvent
from sika.core.context import Actor

MAX_PAGE_SIZE = 200


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        sa.insert(AuditEvent).values(
            actor=actor.id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data or {},
            request_id=actor.request_id,
        )
    )


async def list_events(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 50,
) -> Sequence[AuditEvent]:
    """Newest first; ``after_seq`` is the cursor (the last ``seq`` seen)."""
    query = sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if entity_type is not None:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    if after_seq is not None:
        query = query.where(AuditEvent.seq < after_seq)
    return (await session.scalars(query)).all()
