"""The audit log's queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit.models import AuditEvent
from sika.core import db, paging

_INSERT = """
INSERT INTO audit_events (actor, platform_id, action, entity_type, entity_id, data, request_id)
VALUES (%(actor)s, %(platform_id)s, %(action)s, %(entity_type)s, %(entity_id)s, %(data)s, %(request_id)s)"""


async def insert(
    session: AsyncSession,
    *,
    actor: str,
    platform_id: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any],
    request_id: str | None,
) -> None:
    """Every write writes one: a plain statement on the driver connection (``db.execute_plain``),
    where the ORM-enabled insert went through the ORM's bulk machinery each time."""
    await db.execute_plain(
        session,
        _INSERT,
        {
            "actor": actor,
            "platform_id": platform_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "data": Jsonb(data),
            "request_id": request_id,
        },
    )


async def list_events(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    page: paging.Page,
) -> Sequence[AuditEvent]:
    """Newest first."""
    query = paging.paged(sa.select(AuditEvent), AuditEvent.seq, page)
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
    return (await session.scalars(query)).all()
