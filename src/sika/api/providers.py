"""The payment providers as the API process sees them: one HTTP client and one
collection router (with its circuit breakers) per process, made on first use
and closed with the app."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from sika.core.config import Settings
from sika.providers import failover, registry


async def collection_router(request: Request) -> failover.CollectionRouter:
    return for_app(request.app)


def for_app(app: FastAPI) -> failover.CollectionRouter:
    """The API app's collection router (the dashboard's actions reach the providers through it too)."""
    router = getattr(app.state, "collection_router", None)
    if router is None:
        settings: Settings = app.state.settings
        client = httpx.AsyncClient()
        router = registry.build_router(settings, client)
        app.state.provider_client = client
        app.state.collection_router = router
    assert isinstance(router, failover.CollectionRouter)
    return router


async def close(app: FastAPI) -> None:
    client = getattr(app.state, "provider_client", None)
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()
