from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from sika.providers import registry
from sika.providers.base import PaymentProvider, ProviderName
from tests.support.sandbox import LiveSandbox, impatient, live_sandbox, reset


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
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def providers(sandbox: LiveSandbox, http_client: httpx.AsyncClient) -> dict[ProviderName, PaymentProvider]:
    return registry.build_providers(sandbox.settings, http_client)


@pytest.fixture
def impatient_providers(
    sandbox: LiveSandbox, http_client: httpx.AsyncClient
) -> dict[ProviderName, PaymentProvider]:
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
