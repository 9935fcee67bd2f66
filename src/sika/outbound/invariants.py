"""The outbound domain's invariants:

* ``outbound_delivery_states``: a delivered delivery has its time and a 2xx
  answer, a pending one its next attempt, a failed one was attempted;
* ``outbound_delivery_platform``: a delivery carries its event's platform, so a
  platform's endpoint never receives another platform's event.

The flows keep these true; these checks find what a hand-made change or a broken
flow would leave."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.invariants import MAX_BREACHES_PER_CHECK, Breach, invariant

_STATES = sa.text(
    """
    SELECT d.id, d.status, d.attempts, d.last_status_code, count(*) OVER () AS total
      FROM outbound_deliveries d
     WHERE (d.status = 'succeeded' AND (d.delivered_at IS NULL OR d.last_status_code NOT BETWEEN 200 AND 299))
        OR (d.status = 'pending' AND d.next_attempt_at IS NULL)
        OR (d.status = 'failed' AND d.attempts = 0)
     ORDER BY d.seq
     LIMIT :limit
    """
)

_PLATFORM = sa.text(
    """
    SELECT d.id, d.platform_id, e.platform_id AS event_platform_id, count(*) OVER () AS total
      FROM outbound_deliveries d JOIN events e ON e.id = d.event_id
     WHERE e.platform_id IS DISTINCT FROM d.platform_id
     ORDER BY d.seq
     LIMIT :limit
    """
)


def _total(rows: list[sa.RowMapping]) -> int:
    return int(rows[0]["total"]) if rows else 0


@invariant(
    name="outbound_delivery_states",
    domain="outbound",
    description="A delivered webhook has a 2xx answer, a pending one a next attempt, a failed one was attempted",
)
async def check_states(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_STATES, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="outbound_delivery_states",
            entity_type="webhook_delivery",
            entity_id=row["id"],
            message=f"is {row['status']} after {row['attempts']} attempts, last answer {row['last_status_code']}",
            data={"status": row["status"], "attempts": row["attempts"]},
        )
        for row in rows
    ]
    return _total(rows), breaches


@invariant(
    name="outbound_delivery_platform",
    domain="outbound",
    description="A webhook delivery goes to an endpoint of its event's platform",
)
async def check_platform(session: AsyncSession) -> tuple[int, list[Breach]]:
    rows = list((await session.execute(_PLATFORM, {"limit": MAX_BREACHES_PER_CHECK})).mappings().all())
    breaches = [
        Breach(
            check="outbound_delivery_platform",
            entity_type="webhook_delivery",
            entity_id=row["id"],
            message=f"belongs to {row['platform_id']}, its event to {row['event_platform_id']}",
            data={"platform_id": row["platform_id"], "event_platform_id": row["event_platform_id"]},
        )
        for row in rows
    ]
    return _total(rows), breaches
