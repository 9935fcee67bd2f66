"""What operators watch (the dashboard's webhook endpoints page): each endpoint
with its deliveries' failure rate over the last day, and the deliveries that are
failing, newest first, each with a retry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.outbound import repository
from sika.outbound.models import Delivery, DeliveryStatus, Endpoint

RATE_WINDOW_SECONDS = 24 * 3600
SHOWN = 50
"""Endpoints, and failing deliveries, the page lists."""


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: Endpoint
    attempted: int
    """Deliveries attempted in the window."""
    failing: int
    """Of those, failed for good or still failing."""

    @property
    def failure_rate(self) -> float:
        return self.failing / self.attempted if self.attempted else 0.0


@dataclass(frozen=True)
class Watch:
    endpoints: list[EndpointHealth]
    failing: list[Delivery]


async def watch(session: AsyncSession, *, now: datetime) -> Watch:
    rates = await repository.failure_rates(session, since=now - timedelta(seconds=RATE_WINDOW_SECONDS))
    endpoints: Sequence[Endpoint] = await repository.list_endpoints(session, page=paging.Page(limit=SHOWN))
    failed = await repository.list_deliveries(
        session, endpoint_id=None, status=DeliveryStatus.failed.value, page=paging.Page(limit=SHOWN)
    )
    retrying = await repository.retrying(session, limit=SHOWN)
    failing = sorted([*failed, *retrying], key=lambda d: d.seq, reverse=True)[:SHOWN]
    return Watch(
        endpoints=[EndpointHealth(e, *rates.get(e.id, (0, 0))) for e in endpoints],
        failing=failing,
    )
