"""Transfer tests start from one platform with a funded sender, a recipient
and a third party, each with a wallet and a token of its own, and the keys
of each scope: the platform's, support's, read's and an admin's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from tests.conftest import make_key
from tests.support.factories import Owner, owner, top_up
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers
from tests.support.reads import scalar as scalar

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]
SENDER_FUNDS = 1_000_000


@dataclass(frozen=True)
class Cast:
    sender: Owner
    recipient: Owner
    other: Owner
    platform: Headers
    support: Headers
    read: Headers
    admin: Headers


@pytest.fixture
async def cast(
    client: httpx.AsyncClient, admin_headers: Headers, platform_headers: Headers, sessions: Sessions
) -> Cast:
    sender = await owner(client, platform_headers, display_name="Awa Sender")
    await top_up(client, admin_headers, sender.wallet_id, SENDER_FUNDS)
    return Cast(
        sender=sender,
        recipient=await owner(client, platform_headers, display_name="Kofi Recipient", phone="+221770000002"),
        other=await owner(client, platform_headers, display_name="Ama Other", phone="+221770000003"),
        platform=platform_headers,
        support={"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"},
        read={"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"},
        admin=admin_headers,
    )


async def set_settings(client: httpx.AsyncClient, cast: Cast, **settings: Any) -> None:
    """Replace the platform's settings (fields left out take their defaults)."""
    response = await client.patch(
        f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json={"settings": settings}, headers=cast.admin
    )
    assert response.status_code == 200, response.text


async def send(
    client: httpx.AsyncClient, headers: Headers, source: Owner, destination: Owner, amount: int, **extra: Any
) -> httpx.Response:
    body = {
        "source_wallet_id": source.wallet_id,
        "destination_wallet_id": destination.wallet_id,
        "amount_minor": amount,
        **extra,
    }
    return await client.post("/v1/transfers", json=body, headers=headers)


async def sent(
    client: httpx.AsyncClient, headers: Headers, source: Owner, destination: Owner, amount: int, **extra: Any
) -> dict[str, Any]:
    response = await send(client, headers, source, destination, amount, **extra)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def certify(client: httpx.AsyncClient, cast: Cast, party: Owner, level: int) -> None:
    response = await client.post(
        f"/v1/parties/{party.party_id}/certification",
        json={"level": level, "reason": "documents checked"},
        headers=cast.support,
    )
    assert response.status_code == 201, response.text


async def allow(client: httpx.AsyncClient, cast: Cast, party: Owner, recipient: Owner) -> None:
    response = await client.post(
        f"/v1/parties/{party.party_id}/allowlist",
        json={"recipient_party_id": recipient.party_id},
        headers=cast.platform,
    )
    assert response.status_code == 201, response.text


async def available(client: httpx.AsyncClient, cast: Cast, party: Owner) -> int:
    wallet = (await client.get(f"/v1/wallets/{party.wallet_id}", headers=cast.platform)).json()
    return int(wallet["available_minor"])


async def alerts_of(sessions: Sessions) -> list[tuple[str, dict[str, Any]]]:
    """Every alert's kind and data, oldest first."""
    async with sessions() as session:
        rows = await session.execute(sa.text("SELECT kind, data FROM alerts ORDER BY seq"))
        return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True)
class Still:
    """What a refusal must leave as it was: balances, ledger transfers, every row."""

    ledger: Any
    rows: Any

    @classmethod
    async def now(cls, sessions: Sessions) -> Still:
        return cls(ledger=await snapshot(sessions), rows=await rows_beside_answers(sessions))

    async def assert_nothing_moved(self, sessions: Sessions) -> None:
        assert await snapshot(sessions) == self.ledger
        assert await rows_beside_answers(sessions) == self.rows
