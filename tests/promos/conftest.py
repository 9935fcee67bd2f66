"""Promo tests start from the default platform with two parties, and make codes
through the service as a global admin would (``code``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.promos import schemas
from sika.promos import service as promos_service
from sika.promos.models import PromoCode, PromoRedemption
from tests.conftest import TEST_ACTOR
from tests.support.factories import create_party
from tests.support.reads import scalar as scalar
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]


@pytest.fixture
async def parties(client: httpx.AsyncClient, platform_headers: Headers) -> list[str]:
    """Two parties of the default platform."""
    first = await create_party(client, platform_headers, display_name="Awa Diallo")
    second = await create_party(client, platform_headers, display_name="Kofi Mensah", phone="+221770000002")
    return [first["id"], second["id"]]


async def code(sessions: Sessions, *, now: datetime | None = None, **body: Any) -> PromoCode:
    """A code of the default platform: 10 % off, valid from an hour ago, unless ``body`` says otherwise."""
    at = now or clock.now()
    fields: dict[str, Any] = {"code": "WELCOME10", "percent_off_bps": 1_000, "starts_at": at - timedelta(hours=1)}
    async with db.transaction(sessions) as session:
        return await promos_service.create_code(
            session, body=schemas.PromoCodeCreate(**{**fields, **body}), actor=TEST_ACTOR, now=at
        )


async def reserve(sessions: Sessions, promo: PromoCode, subject_id: str, party_id: str) -> PromoRedemption:
    """A use of ``promo`` reserved for ``subject_id`` by ``party_id``, 100 off, in a transaction of its own."""
    async with db.transaction(sessions) as session:
        return await promos_service.reserve(
            session, promo=promo, subject_id=subject_id, party_id=party_id, amount_off_minor=100, now=clock.now()
        )
