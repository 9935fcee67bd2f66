"""The outbound tables' queries, and the events they read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.events.models import Event
from sika.outbound.models import Delivery, DeliveryStatus, Endpoint

PENDING = DeliveryStatus.pending.value


async def get_endpoint(session: AsyncSession, endpoint_id: str, *, for_update: bool = False) -> Endpoint | None:
    return await session.get(Endpoint, endpoint_id, with_for_update=for_update or None)


async def list_endpoints(session: AsyncSession, *, page: paging.Page) -> Sequence[Endpoint]:
    return (await session.scalars(paging.paged(sa.select(Endpoint), Endpoint.seq, page))).all()


async def has_enabled_endpoint(session: AsyncSession) -> bool:
    return (await session.scalar(sa.select(Endpoint.id).where(Endpoint.enabled).limit(1))) is not None


async def endpoints_to_fan_out(session: AsyncSession, *, limit: int) -> Sequence[Endpoint]:
    """Enabled endpoints no other worker is fanning out right now."""
    query = (
        sa.select(Endpoint)
        .where(Endpoint.enabled)
        .order_by(Endpoint.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def mark_succeeding(session: AsyncSession, *, endpoint_id: str) -> None:
    await session.execute(
        sa.update(Endpoint)
        .where(Endpoint.id == endpoint_id, Endpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )


async def mark_failing(session: AsyncSession, *, endpoint_id: str, now: datetime) -> None:
    await session.execute(
        sa.update(Endpoint)
        .where(Endpoint.id == endpoint_id, Endpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )


async def get_delivery(
    session: AsyncSession, *, endpoint_id: str, delivery_id: str, for_update: bool = False
) -> Delivery | None:
    query = sa.select(Delivery).where(Delivery.id == delivery_id, Delivery.endpoint_id == endpoint_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def list_deliveries(
    session: AsyncSession, *, endpoint_id: str | None, status: str | None, page: paging.Page
) -> Sequence[Delivery]:
    query = paging.paged(sa.select(Delivery), Delivery.seq, page)
    if endpoint_id is not None:
        query = query.where(Delivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return (await session.scalars(query)).all()


async def snapshot_bounds(session: AsyncSession) -> tuple[int, int, int]:
    """The oldest transaction still running (``xmin``), the first not yet started
    (``xmax``) and the last event ``seq`` handed out, read in that order."""
    row = (
        await session.execute(
            sa.text(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
                " coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::regclass), 0)"
            )
        )
    ).one()
    xmax = await session.scalar(sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
    return int(row[0]), int(xmax or 0), int(row[1])


def _matching(event_types: Sequence[str]) -> sa.ColumnElement[bool]:
    if "*" in event_types:
        return sa.true()
    exact = [t for t in event_types if not t.endswith(".*")]
    nouns = [t.removesuffix(".*") for t in event_types if t.endswith(".*")]
    return sa.or_(Event.type.in_(exact), sa.func.split_part(Event.type, ".", 1).in_(nouns))


async def fan_out(session: AsyncSession, *, endpoint: Endpoint, limit: int, now: datetime) -> tuple[int, int]:
    """One pending delivery per event of the endpoint's platform and types after its
    cursor that has none yet, the first ``limit`` of them; how many were made, and how
    many events were read."""
    has_delivery = sa.exists().where(Delivery.endpoint_id == endpoint.id, Delivery.event_id == Event.id)
    events = (
        await session.execute(
            sa.select(Event.id, Event.seq, Event.type, Event.entity_id)
            .where(
                Event.platform_id == endpoint.platform_id,
                Event.seq > endpoint.fanned_out_seq,
                _matching(endpoint.event_types),
                ~has_delivery,
            )
            .order_by(Event.seq)
            .limit(limit)
        )
    ).all()
    if not events:
        return 0, 0
    rows = [_pending(endpoint, event_id, seq, type_, entity_id, now) for event_id, seq, type_, entity_id in events]
    made = await session.execute(
        insert(Delivery).values(rows).on_conflict_do_nothing(constraint="uq_outbound_deliveries_endpoint_event")
    )
    return int(getattr(made, "rowcount", 0) or 0), len(events)


def _pending(endpoint: Endpoint, event_id: str, seq: int, type_: str, entity_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": ids.new_id("whd"),
        "platform_id": endpoint.platform_id,
        "endpoint_id": endpoint.id,
        "event_id": event_id,
        "event_seq": seq,
        "event_type": type_,
        "entity_id": entity_id,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def replay(
    session: AsyncSession,
    *,
    endpoint: Endpoint,
    since_seq: int | None,
    since: datetime | None,
    now: datetime,
    limit: int,
) -> int:
    """Deliveries again (a new round, same event ids) of the endpoint's events from
    ``since_seq`` or ``since`` on, at most ``limit``; how many. An event the fan-out has
    not reached yet gets its delivery here, and the fan-out then finds it made."""
    query = sa.select(Event.id, Event.seq, Event.type, Event.entity_id).where(
        Event.platform_id == endpoint.platform_id,
        _matching(endpoint.event_types),
    )
    if since_seq is not None:
        query = query.where(Event.seq >= since_seq)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    events = (await session.execute(query.order_by(Event.seq).limit(limit))).all()
    if not events:
        return 0
    rows = [_pending(endpoint, event_id, seq, type_, entity_id, now) for event_id, seq, type_, entity_id in events]
    statement = insert(Delivery).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            constraint="uq_outbound_deliveries_endpoint_event",
            set_={"status": PENDING, "attempts": 0, "next_attempt_at": now, "updated_at": now},
        )
    )
    return len(rows)


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int) -> list[str]:
    """Take up to ``limit`` due deliveries, each the earliest pending event of its
    object for its endpoint, for one attempt each: leased and counted."""
    rows = await session.execute(
        sa.text(
            """
            WITH due AS (
                SELECT d.id FROM outbound_deliveries d
                JOIN outbound_endpoints e ON e.id = d.endpoint_id
                WHERE d.status = 'pending' AND e.enabled AND d.next_attempt_at <= :now
                  AND (d.leased_until IS NULL OR d.leased_until < :now)
                  AND NOT EXISTS (
                      SELECT 1 FROM outbound_deliveries p
                      WHERE p.endpoint_id = d.endpoint_id AND p.entity_id = d.entity_id
                        AND p.status = 'pending' AND p.event_seq < d.event_seq)
                ORDER BY d.next_attempt_at, d.event_seq
                LIMIT :limit
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE outbound_deliveries o
            SET leased_until = :lease_until, attempts = o.attempts + 1, last_attempt_at = :now, updated_at = :now
            FROM due WHERE o.id = due.id
            RETURNING o.id
            """
        ),
        {"now": now, "lease_until": lease_until, "limit": limit},
    )
    return [row[0] for row in rows]


async def claim_next_of(
    session: AsyncSession, *, endpoint_id: str, entity_id: str, now: datetime, lease_until: datetime
) -> str | None:
    """The earliest pending delivery of one object to one endpoint, leased and counted, if it
    is due and no one holds it. Locked without skipping: a later one is never taken instead."""
    row = await session.execute(
        sa.text(
            """
            WITH head AS (
                SELECT d.id, d.next_attempt_at, d.leased_until FROM outbound_deliveries d
                WHERE d.endpoint_id = :endpoint_id AND d.entity_id = :entity_id AND d.status = 'pending'
                ORDER BY d.event_seq
                LIMIT 1
                FOR UPDATE
            )
            UPDATE outbound_deliveries o
            SET leased_until = :lease_until, attempts = o.attempts + 1, last_attempt_at = :now, updated_at = :now
            FROM head
            WHERE o.id = head.id AND head.next_attempt_at <= :now
              AND (head.leased_until IS NULL OR head.leased_until < :now)
              AND EXISTS (SELECT 1 FROM outbound_endpoints e WHERE e.id = :endpoint_id AND e.enabled)
            RETURNING o.id
            """
        ),
        {"endpoint_id": endpoint_id, "entity_id": entity_id, "now": now, "lease_until": lease_until},
    )
    found = row.scalar_one_or_none()
    return str(found) if found is not None else None


async def deliveries_with_events(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> Sequence[tuple[Delivery, Event, Endpoint]]:
    rows = await session.execute(
        sa.select(Delivery, Event, Endpoint)
        .join(Event, Event.id == Delivery.event_id)
        .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.event_seq)
    )
    return [(d, e, ep) for d, e, ep in rows]


async def get_event(session: AsyncSession, event_id: str) -> Event | None:
    return await session.get(Event, event_id)


async def failure_rates(session: AsyncSession, *, since: datetime) -> dict[str, tuple[int, int]]:
    """Per endpoint, deliveries attempted since ``since``: (all, failed or still failing)."""
    rows = await session.execute(
        sa.select(
            Delivery.endpoint_id,
            sa.func.count(),
            sa.func.count().filter(
                sa.or_(
                    Delivery.status == DeliveryStatus.failed.value,
                    sa.and_(Delivery.status == PENDING, Delivery.attempts > 0),
                )
            ),
        )
        .where(Delivery.last_attempt_at >= since)
        .group_by(Delivery.endpoint_id)
    )
    return {endpoint_id: (int(total), int(failed)) for endpoint_id, total, failed in rows}


async def retrying(session: AsyncSession, *, limit: int) -> Sequence[Delivery]:
    """Pending deliveries whose last attempt failed, newest first."""
    query = (
        sa.select(Delivery)
        .where(Delivery.status == PENDING, Delivery.attempts > 0, Delivery.last_attempt_at.is_not(None))
        .order_by(Delivery.seq.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()
