"""The queries behind readiness and metrics, on a connection of their own
(outside any request's unit of work, so a broken pool still gets an answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sika.core import migrate


@dataclass(frozen=True)
class QueueCount:
    queue: str
    status: str
    count: int


async def ping(connection: AsyncConnection) -> None:
    await connection.execute(sa.text("SELECT 1"))


async def current_revision(connection: AsyncConnection) -> str | None:
    """The migration the database is at."""
    return await connection.run_sync(migrate.current_revision)


async def last_worker_heartbeat(connection: AsyncConnection) -> datetime | None:
    """The latest heartbeat of any job worker, None if none ever beat."""
    beat: datetime | None = await connection.scalar(sa.text("SELECT max(last_heartbeat) FROM procrastinate_workers"))
    return beat


async def waiting_and_running_jobs(connection: AsyncConnection) -> Sequence[QueueCount]:
    """How many jobs wait (``todo``) or run (``doing``), by queue."""
    rows = await connection.execute(
        sa.text(
            "SELECT queue_name, status, count(*) FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
        )
    )
    return [QueueCount(queue=queue, status=status, count=count) for queue, status, count in rows]
