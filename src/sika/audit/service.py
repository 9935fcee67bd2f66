"""The audit log: one row per mutation, written in the mutation's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import repository
from sika.audit.models import AuditEvent
from sika.core import paging
from sika.core.context import Actor


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    platform_id: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any] | None = None,
) -> None:
    """One audit row. ``platform_id`` is the platform whose object changed (None for
    the installation's own): its support staff read the row, no other platform's do."""
    await repository.insert(
        session,
        actor=actor.id,
        platform_id=platform_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data or {},
        request_id=actor.request_id,
    )


def with_reason(reason: str | None, **data: Any) -> dict[str, Any]:
    """An action's audit data, with the operator's ``reason`` when they gave one."""
    return {**data, "reason": reason} if reason is not None else data


async def list_events(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: paging.Page = paging.FIRST_PAGE,
) -> Sequence[AuditEvent]:
    """Newest first."""
    return await repository.list_events(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        page=page,
    )
