"""Readiness checks and the process metrics gauges.

Readiness answers even when the database does not: each check reports what
went wrong instead of raising, and the process is ready when all hold."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core import migrate
from sika.core.config import Settings
from sika.providers import registry
from sika.system import repository

DB_POOL_CHECKED_OUT = Gauge("sika_db_pool_checked_out", "Connections in use from the pool")
DB_POOL_SIZE = Gauge("sika_db_pool_size", "Connections held by the pool")
JOB_QUEUE_DEPTH = Gauge("sika_job_queue_depth", "Jobs by queue and status", ["queue", "status"])

READY_PROBE_SECONDS = 1.0
"""Longest /ready waits for a provider's connection: probes of /ready are often given a
second or two, and an informational check must not make them time out."""


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, dict[str, Any]]
    """By name (``database``, ``migrations``, ``worker``): ``ok`` and what was seen."""

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())


async def readiness(engine: AsyncEngine, *, now: datetime, stale_after: timedelta) -> Readiness:
    """The database answers, its schema is at the code's head, and a worker beat
    within ``stale_after``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        async with engine.connect() as connection:
            await repository.ping(connection)
            checks["database"] = {"ok": True}
            current = await repository.current_revision(connection)
            head = migrate.head_revision()
            checks["migrations"] = {"ok": current == head, "current": current, "head": head}
            beat = await repository.last_worker_heartbeat(connection)
            checks["worker"] = {
                "ok": beat is not None and beat > now - stale_after,
                "last_heartbeat": beat.isoformat() if beat else None,
                "stale_after_seconds": int(stale_after.total_seconds()),
            }
    except Exception as exc:
        checks.setdefault("database", {"ok": False, "error": type(exc).__name__})
        for name in ("migrations", "worker"):
            checks.setdefault(name, {"ok": False, "error": "database unreachable"})
    return Readiness(checks=checks)


@dataclass(frozen=True)
class Reachability:
    provider: str
    base_url: str
    setting: str
    error: str | None
    """Why no connection opened (``ConnectionRefusedError``, ``timeout``…); None when one did."""

    @property
    def reachable(self) -> bool:
        return self.error is None


async def provider_reachability(settings: Settings, *, wait_seconds: float) -> list[Reachability]:
    """Whether a connection opens to each configured provider's base URL, all at once.
    Nothing is sent: opening a connection is all a provider is asked."""
    configured = registry.configured_base_urls(settings)
    errors = await asyncio.gather(*(_connection_error(url, wait_seconds) for url, _ in configured.values()))
    return [
        Reachability(provider=name.value, base_url=url, setting=setting, error=error)
        for (name, (url, setting)), error in zip(configured.items(), errors, strict=True)
    ]


async def _connection_error(url: str, wait_seconds: float) -> str | None:
    try:
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        async with asyncio.timeout(wait_seconds):
            _, writer = await asyncio.open_connection(parsed.host, port)
    except TimeoutError:
        return "timeout"
    except (OSError, httpx.InvalidURL) as exc:
        return type(exc).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def refresh_metrics(engine: AsyncEngine) -> None:
    """Set the pool and job-queue gauges to what they are now; the queue depth
    keeps its last value when the database does not answer."""
    pool = engine.pool
    DB_POOL_CHECKED_OUT.set(pool.checkedout())  # type: ignore[attr-defined]
    DB_POOL_SIZE.set(pool.size())  # type: ignore[attr-defined]
    try:
        async with engine.connect() as connection:
            counts = await repository.waiting_and_running_jobs(connection)
    except Exception:
        return  # metrics must answer even when the database does not
    JOB_QUEUE_DEPTH.clear()
    for row in counts:
        JOB_QUEUE_DEPTH.labels(queue=row.queue, status=row.status).set(row.count)
