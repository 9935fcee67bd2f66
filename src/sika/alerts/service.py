"""Alerts for operators: invariant breaches, money disagreements, lost events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import repository
from sika.alerts.models import Alert
from sika.audit import service as audit_service
from sika.core import errors, ids, paging
from sika.core.context import Actor

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
    platform_id: str | None,
) -> Alert:
    """``platform_id``: the platform whose object the alert is about, when it is one
    platform's (its support staff see it); None for the installation's own."""
    alert = Alert(
        id=ids.new_id("alrt"),
        kind=kind,
        severity=severity,
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data or {},
        platform_id=platform_id,
    )
    session.add(alert)
    await session.flush()
    ALERTS_RAISED.labels(kind=kind).inc()
    return alert


async def has_open(session: AsyncSession, *, kind: str, entity_id: str) -> bool:
    """Whether an alert of this kind about this entity awaits acknowledgement:
    a repeating cause (a wrong secret, a flood of forged webhooks) then raises one, not thousands."""
    return await repository.has_open(session, kind=kind, entity_id=entity_id)


async def count_open(session: AsyncSession) -> int:
    """How many alerts await acknowledgement."""
    return await repository.count_open(session)


async def list_alerts(
    session: AsyncSession,
    *,
    kind: str | None = None,
    is_open: bool | None = None,
    page: paging.Page = paging.FIRST_PAGE,
) -> Sequence[Alert]:
    """Newest first."""
    return await repository.list_alerts(session, kind=kind, is_open=is_open, page=page)


async def acknowledge(
    session: AsyncSession, *, alert_id: str, actor: Actor, now: datetime, reason: str | None = None
) -> Alert:
    alert = await repository.get_for_update(session, alert_id)
    if alert is None:
        raise AlertNotFound()
    await _acknowledge(session, alert, actor=actor, now=now, reason=reason)
    return alert


async def open_about(session: AsyncSession, *, entity_type: str, entity_id: str) -> Sequence[Alert]:
    """The open alerts about one object (``entity_type`` as the alerts name it: ``collection``...), oldest first."""
    return await repository.open_about(session, entity_type=entity_type, entity_id=entity_id)


async def acknowledge_about(
    session: AsyncSession, *, entity_type: str, entity_id: str, actor: Actor, now: datetime, reason: str
) -> Sequence[Alert]:
    """Acknowledge every open alert about one object (an operator looked at it as a whole), oldest first."""
    alerts = await repository.open_about(session, entity_type=entity_type, entity_id=entity_id, for_update=True)
    for alert in alerts:
        await _acknowledge(session, alert, actor=actor, now=now, reason=reason)
    return alerts


async def _acknowledge(session: AsyncSession, alert: Alert, *, actor: Actor, now: datetime, reason: str | None) -> None:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = actor.id
        await audit_service.record(
            session,
            actor=actor,
            platform_id=alert.platform_id,
            action="alert.acknowledged",
            entity_type="alert",
            entity_id=alert.id,
            data=audit_service.with_reason(reason),
        )
