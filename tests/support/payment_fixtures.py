"""Fixtures shared by the payments and webhooks tests: collections and payouts
through the API (in-process, over ASGI) against the PSP sandbox served over
real HTTP. The sandbox's webhooks land in a receiver; a test hands them to
Sika with ``tests.support.payments.deliver`` and runs the queued jobs with
``run_jobs``, so it decides when each arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import providers as api_providers
from sika.core.config import Settings
from tests.support import asgi
from tests.support.factories import PartyWallet
from tests.support.payments import World, payer
from tests.support.sandbox import LiveSandbox


@pytest.fixture
def settings(sandbox: LiveSandbox) -> Settings:
    return sandbox.settings.model_copy(
        update={
            "RATE_LIMIT_PER_KEY": "100000/minute",
            "RATE_LIMIT_PER_ADDRESS": "100000/minute",
            "WEBHOOK_RETRY_DELAYS_SECONDS": [1, 2],
            "RECONCILE_AFTER_SECONDS": 0,
        }
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Over ASGI, which runs no lifespan: the providers' HTTP client is closed here."""
    async with asgi.client_of(app) as client:
        yield client
    await api_providers.close(app)


@pytest.fixture
def world(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    admin_headers: dict[str, str],
    sandbox: LiveSandbox,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    settings: Settings,
) -> World:
    return World(
        client=client,
        platform=platform_headers,
        admin=admin_headers,
        sandbox=sandbox,
        sessions=sessions,
        database_url=database_url,
        settings=settings,
    )


@pytest.fixture
async def kofi(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> PartyWallet:
    return await payer(client, platform_headers)
