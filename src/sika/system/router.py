"""Liveness, readiness and metrics: public, limited per client address in a
bucket of their own (``deps.system_rate_limit``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from sika.api.deps import CurrentSettings, Engine, system_rate_limit
from sika.core import clock
from sika.system import service as system_service

router = APIRouter(tags=["system"], dependencies=[Depends(system_rate_limit)])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        503: {
            "description": "Not ready: the same shape, naming the checks that failed.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def ready(request: Request, engine: Engine, settings: CurrentSettings) -> JSONResponse:
    """Ready when the database answers at the code's schema and a worker beats. Each
    configured provider's reachability is shown too, for information only: a provider
    down is the failover's business, and taking every API process out of rotation
    for it would refuse the calls that need no provider. So is whether this process's
    API key cache hears revocations (``listening``; ``deaf`` while it reconnects, when
    every request reads its key from the database; ``off`` when turned off)."""
    readiness, providers = await asyncio.gather(
        system_service.readiness(
            engine, now=clock.now(), stale_after=timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
        ),
        system_service.provider_reachability(
            settings, wait_seconds=min(settings.PROVIDER_CONNECT_TIMEOUT_SECONDS, system_service.READY_PROBE_SECONDS)
        ),
    )
    return JSONResponse(
        {
            "status": "ready" if readiness.ready else "not_ready",
            "checks": readiness.checks,
            "providers": {found.provider: {"reachable": found.reachable, "error": found.error} for found in providers},
            "api_key_cache": request.app.state.key_cache.state,
        },
        status_code=200 if readiness.ready else 503,
    )


@router.get("/metrics")
async def metrics(engine: Engine) -> Response:
    await system_service.refresh_metrics(engine)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
