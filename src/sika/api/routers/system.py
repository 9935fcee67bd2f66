"""Liveness, readiness and metrics: public, limited per client address in a
bucket of their own (``deps.system_rate_limit``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from sika.api.deps import system_rate_limit
from sika.core import clock, migrate

router = APIRouter(tags=["system"], dependencies=[Depends(system_rate_limit)])

DB_POOL_CHECKED_OUT = Gauge("sika_db_pool_checked_out", "Connections in use from the pool")
DB_POOL_SIZE = Gauge("sika_db_pool_size", "Connections held by the pool")
JOB_QUEUE_DEPTH = Gauge("sika_job_queue_depth", "Jobs by queue and status", ["queue", "status"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    stale_after = timedelta(seconds=request.app.state.settings.WORKER_HEARTBEAT_STALE_SECONDS)
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
            checks["database"] = {"ok": True}
            current = await connection.run_sync(migrate.current_revision)
            head = migrate.head_revision()
            checks["migrations"] = {"ok": current == head, "current": current, "head": head}
            beat = await connection.scalar(sa.text("SELECT max(last_heartbeat) FROM procrastinate_workers"))
            fresh = beat is not None and beat > clock.now() - stale_after
            checks["worker"] = {
                "ok": fresh,
                "last_heartbeat": beat.isoformat() if beat else None,
                "stale_after_seconds": int(stale_after.total_seconds()),
            }
    except Exception as exc:
        checks.setdefault("database", {"ok": False, "error": type(exc).__name__})
        for name in ("migrations", "worker"):
            checks.setdefault(name, {"ok": False, "error": "database unreachable"})
    is_ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if is_ready else "not_ready", "checks": checks},
        status_code=200 if is_ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    pool = request.app.state.engine.pool
    DB_POOL_CHECKED_OUT.set(pool.checkedout())
    DB_POOL_SIZE.set(pool.size())
    try:
        async with request.app.state.engine.connect() as connection:
            rows = await connection.execute(
                sa.text(
                    "SELECT queue_name, status, count(*) FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
                )
            )
            JOB_QUEUE_DEPTH.clear()
            for queue, status, count in rows:
                JOB_QUEUE_DEPTH.labels(queue=queue, status=status).set(count)
    except Exception:  # noqa: S110 - metrics must answer even when the database does not
        pass
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
