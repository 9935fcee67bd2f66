"""Liveness, readiness and metrics: public, limited per client address in a
bucket of their own (``deps.system_rate_limit``)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from sika.api.deps import CurrentSettings, Engine, system_rate_limit
from sika.core import clock
from sika.system import service as system_service

router = APIRouter(tags=["system"], dependencies=[Depends(system_rate_limit)])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(engine: Engine, settings: CurrentSettings) -> JSONResponse:
    readiness = await system_service.readiness(
        engine, now=clock.now(), stale_after=timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    )
    return JSONResponse(
        {"status": "ready" if readiness.ready else "not_ready", "checks": readiness.checks},
        status_code=200 if readiness.ready else 503,
    )


@router.get("/metrics")
async def metrics(engine: Engine) -> Response:
    await system_service.refresh_metrics(engine)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
