from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support import sandbox as sandbox_support
from tests.support.sandbox import LiveSandbox

# The sandbox fixtures live in tests.support.sandbox for every folder that uses them.
live = sandbox_support.live
sandbox = sandbox_support.sandbox


@pytest.fixture
async def client(sandbox: LiveSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the sandbox, as a provider's API client would speak."""
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=sandbox_support.WAIT_SECONDS) as raw:
        yield raw


@pytest.fixture
async def admin(sandbox: LiveSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox.admin() as client:
        yield client
