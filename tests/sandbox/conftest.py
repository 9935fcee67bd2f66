from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.sandbox import LiveSandbox, live_sandbox, reset


@pytest.fixture(scope="session")
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(live: LiveSandbox) -> LiveSandbox:
    """The live sandbox, emptied, with no webhook received yet."""
    reset(live.url)
    live.receiver.clear()
    return live


@pytest.fixture
async def client(sandbox: LiveSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the sandbox, as a provider's API client would speak."""
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=5) as raw:
        yield raw


@pytest.fixture
async def admin(sandbox: LiveSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox.admin() as client:
        yield client
