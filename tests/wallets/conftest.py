from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.ledger import service as ledger_service
from sika.ledger.models import Transfer
from tests.support.factories import create_party, party_headers
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)


@dataclass
class Owner:
    party: dict[str, Any]
    wallet: dict[str, Any]
    headers: dict[str, str]
    """A party token for this party."""

    @property
    def wallet_id(self) -> str:
        return str(self.wallet["id"])


async def open_wallet(
    client: httpx.AsyncClient, headers: dict[str, str], party_id: str, currency: str = "XOF"
) -> dict[str, Any]:
    response = await client.post(f"/v1/parties/{party_id}/wallets", json={"currency": currency}, headers=headers)
    assert response.status_code == 201, response.text
    wallet: dict[str, Any] = response.json()
    return wallet


async def top_up(
    client: httpx.AsyncClient, admin_headers: dict[str, str], wallet_id: str, amount_minor: int
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/wallets/{wallet_id}/top-ups",
        json={"amount_minor": amount_minor, "reference": f"tu-{amount_minor}"},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    done: dict[str, Any] = response.json()
    return done


async def place_hold(
    client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str, amount_minor: int, **extra: Any
) -> httpx.Response:
    body = {"amount_minor": amount_minor, "reason": "order", **extra}
    return await client.post(f"/v1/wallets/{wallet_id}/holds", json=body, headers=headers)


async def wallet_state(client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str) -> tuple[int, int, int]:
    """(balance, held, available) as the API reports them."""
    wallet = (await client.get(f"/v1/wallets/{wallet_id}", headers=headers)).json()
    return wallet["balance_minor"], wallet["held_minor"], wallet["available_minor"]


async def account_posted(sessions: async_sessionmaker[AsyncSession], account_id: str) -> int:
    async with sessions() as session:
        return (await ledger_service.get_balance(session, account_id=account_id)).posted_minor


async def transfer_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Transfer)) or 0)


@pytest.fixture
async def buyer(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> Owner:
    party = await create_party(client, platform_headers, display_name="Awa Buyer")
    wallet = await open_wallet(client, platform_headers, party["id"])
    return Owner(party=party, wallet=wallet, headers=await party_headers(client, platform_headers, party["id"]))


@pytest.fixture
async def merchant(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> Owner:
    party = await create_party(client, platform_headers, display_name="Kofi Shop", type="business", country="GH")
    wallet = await open_wallet(client, platform_headers, party["id"])
    return Owner(party=party, wallet=wallet, headers=await party_headers(client, platform_headers, party["id"]))
