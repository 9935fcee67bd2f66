"""Escrow tests start from one platform with a client (funded), a beneficiary and a
third party, each with a wallet and a token of its own, and the keys that act on
escrows: the platform's, an operator's (support) and an admin's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.support.factories import Owner, owner, top_up
from tests.support.reads import available as available
from tests.support.reads import events_of as events_of
from tests.support.reads import scalar as scalar
from tests.support.reads import sika_check as sika_check
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]
CLIENT_FUNDS = 100_000


@dataclass(frozen=True)
class Cast:
    client: Owner
    beneficiary: Owner
    other: Owner
    """A third party of the same platform, in no escrow."""
    platform: Headers
    support: Headers
    admin: Headers


@pytest.fixture
async def cast(
    client: httpx.AsyncClient, admin_headers: Headers, platform_headers: Headers, sessions: Sessions
) -> Cast:
    buyer = await owner(client, platform_headers, display_name="Awa Client")
    await top_up(client, admin_headers, buyer.wallet_id, CLIENT_FUNDS)
    return Cast(
        client=buyer,
        beneficiary=await owner(client, platform_headers, display_name="Kofi Talent", phone="+221770000002"),
        other=await owner(client, platform_headers, display_name="Ama Other", phone="+221770000003"),
        platform=platform_headers,
        support={"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"},
        admin=admin_headers,
    )


def escrow_body(cast: Cast, *amounts: int, **overrides: Any) -> dict[str, Any]:
    """An escrow of the cast's client for its beneficiary, one milestone per amount (default 6000 + 4000)."""
    amounts = amounts or (6_000, 4_000)
    return {
        "client_party_id": cast.client.party_id,
        "beneficiary_party_id": cast.beneficiary.party_id,
        "currency": "XOF",
        "amount_minor": sum(amounts),
        "milestones": [{"title": f"part {n}", "amount_minor": a} for n, a in enumerate(amounts, start=1)],
        **overrides,
    }


async def create(client: httpx.AsyncClient, cast: Cast, *amounts: int, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/escrows", json=escrow_body(cast, *amounts, **overrides), headers=cast.platform)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def act(
    client: httpx.AsyncClient, escrow: dict[str, Any], path: str, headers: Headers, body: Any = None
) -> httpx.Response:
    """POST ``/v1/escrows/{id}/<path>`` with ``headers``."""
    return await client.post(f"/v1/escrows/{escrow['id']}/{path}", json=body, headers=headers)


async def funded(client: httpx.AsyncClient, cast: Cast, *amounts: int, **overrides: Any) -> dict[str, Any]:
    escrow = await create(client, cast, *amounts, **overrides)
    response = await act(client, escrow, "fund", cast.platform, {})
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    assert done["status"] == "funded"
    return done
