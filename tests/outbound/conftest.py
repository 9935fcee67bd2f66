"""Outbound webhook tests: endpoints registered over the API by a platform key,
events written by the events service as each domain writes them, and the
delivery pump run pass by pass in the test's own process against receivers
listening on loopback."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.events import service as events_service
from sika.outbound import service as outbound_service
from tests.support.reads import scalar as scalar
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]
PUMP_TIMEOUT_SECONDS = 30.0


@pytest.fixture
async def sender() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False) as client:
        yield client


async def register(client: httpx.AsyncClient, headers: Headers, url: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/webhook-endpoints", json={"url": url, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def emit(sessions: Sessions, entity_id: str, type_: str = "payout.failed", **data: Any) -> str:
    """One event about ``entity_id``, written as a domain writes it; its id."""
    async with db.transaction(sessions) as session:
        event = await events_service.emit(
            session,
            type=type_,
            entity_type=type_.split(".")[0],
            entity_id=entity_id,
            data={"id": entity_id, **data},
            platform_id=DEFAULT_PLATFORM_ID,
            now=clock.now(),
        )
        return event.id


async def pump_until(
    sessions: Sessions,
    settings: Settings,
    sender: httpx.AsyncClient,
    done: Callable[[], bool | Awaitable[bool]],
) -> None:
    """Run delivery passes, as the job does, until ``done()``."""
    deadline = time.monotonic() + PUMP_TIMEOUT_SECONDS
    while not await _holds(done):
        assert time.monotonic() < deadline, "the deliveries never got there"
        pumped = await outbound_service.pump_once(sessions, settings=settings, client=sender)
        if not pumped.attempted:
            await asyncio.sleep(0.05)


async def _holds(done: Callable[[], bool | Awaitable[bool]]) -> bool:
    answer = done()
    return await answer if inspect.isawaitable(answer) else bool(answer)
