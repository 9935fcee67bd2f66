"""Fixtures shared by the payments and webhooks tests: collections and payouts
through the API (in-process, over ASGI) against the PSP sandbox served over
real HTTP. The sandbox's webhooks land in a receiver; a test hands them to
Sika with ``tests.support.payments.deliver`` and runs the queued jobs with
``run_jobs``, so it decides when each arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from sika.api import providers as api_providers
from sika.core.config import Settings
from tests.support.payments import Payer, payer
from tests.support.sandbox import LiveSandbox, live_sandbox, reset


@pytest.fixture(scope="session")
def live() -> Iterator[LiveSandbox]:
    with live_sandbox(SANDBOX_APPROVAL_DELAY_SECONDS=0.2) as running:
        yield running


@pytest.fixture
def sandbox(live: LiveSandbox) -> LiveSandbox:
    """The live sandbox, emptied, with no webhook received yet."""
    reset(live.url)
    live.receiver.clear()
    return live


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
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
        yield client
    await api_providers.close(app)


@pytest.fixture
async def kofi(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> Payer:
    return await payer(client, platform_headers)
