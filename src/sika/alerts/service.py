"""Alerts for operators: invariant breaches, money disagreements, lost events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts.models import Alert
from sika.audit import service as audit_service
from sika.core import errors, ids
from sika.core.context import Actor

MAX_PAGE_SIZE = 200

ALERTS_RAISED = Counter("sika_alerts_raised_total", "Alerts raised, by kind", ["kind"])


class AlertNotFound(errors.NotFound):
    """No such alert."""

    code = "alert_not_found"


async def raise_alert(
    session: AsyncSession,
    *,
    kind: str,
    message: str,
    severity: str = "warning",
    entity_type: str | None = None,
    entity_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Alert:
    alert = Alert(
        id=ids.new_id("alrt"),
        kind=kind,
        severity=severity,
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data or {},
    )
    session.add(alert)
    await session.flush()
    ALERTS_RAISED.labels(kind=kind).inc()
    return alert


async def has_open(session: AsyncSession, *, kind: str, entity_id: str) -> bool:
    """Whether an alert of this kind about this entity awaits acknowledgement:
    a repeating cause (a wrong secret, a flood of forged webhooks) then raises one, not thousands."""
    found = await session.scalar(
        sa.select(Alert.id)
        .where(Alert.kind == kind, Alert.entity_id == entity_id, Alert.acknowledged_at.is_(None))
        .limit(1)
    )
    return found is not None


async def count_open(session: AsyncSession) -> int:
    """How many alerts await acknowledgement."""
    count = await session.scalar(sa.select(sa.func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None)))
    return int(count or 0)


async def list_alerts(
    session: AsyncSession,
    *,
    kind: str | None = None,
    is_open: bool | None = None,
    after_seq: int | None = None,
    limit: int = 50,
) -> Sequence[Alert]:
    query = sa.select(Alert).order_by(Alert.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if is_open is True:
        query = query.where(Alert.acknowledged_at.is_(None))
    elif is_open is False:
        query = query.where(Alert.acknowledged_at.is_not(None))
    if after_seq is not None:
        query = query.where(Alert.seq < after_seq)
    return (await session.scalars(query)).all()


async def acknowledge(session: AsyncSession, *, alert_id: str, actor: Actor, now: datetime) -> Alert:
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertNotFound()
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = actor.id
        await audit_service.record(
            session, actor=actor, action="alert.acknowledged", entity_type="alert", entity_id=alert.id
        )
    return alert
