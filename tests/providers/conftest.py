from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sika.providers import registry
from sika.providers.base import PaymentProvider, ProviderName
from tests.support import sandbox as sandbox_support
from tests.support.sandbox import LiveSandbox, impatient

# The sandbox fixtures live in tests.support.sandbox for every folder that uses them.
live = sandbox_support.live
sandbox = sandbox_support.sandbox


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def providers(sandbox: LiveSandbox, http_client: httpx.AsyncClient) -> dict[ProviderName, PaymentProvider]:
    return registry.build_providers(sandbox.settings, http_client)


@pytest.fixture
def impatient_providers(sandbox: LiveSandbox, http_client: httpx.AsyncClient) -> dict[ProviderName, PaymentProvider]:
    """Adapters that give up before the ``no_answer`` scenario answers."""
    return registry.build_providers(impatient(sandbox.settings), http_client)


@pytest.fixture
def paystack(providers: dict[ProviderName, PaymentProvider]) -> PaymentProvider:
    return providers[ProviderName.paystack]


@pytest.fixture
def fedapay(providers: dict[ProviderName, PaymentProvider]) -> PaymentProvider:
    return providers[ProviderName.fedapay]


@pytest.fixture
def stripe(providers: dict[ProviderName, PaymentProvider]) -> PaymentProvider:
    return providers[ProviderName.stripe]
