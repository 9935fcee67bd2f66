from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.ledger import service as ledger_service
from sika.ledger.models import Transfer
from tests.support.factories import Owner, owner, top_up
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)


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
    return await owner(client, platform_headers, display_name="Awa Buyer")


@pytest.fixture
async def merchant(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> Owner:
    return await owner(client, platform_headers, display_name="Kofi Shop", type="business", country="GH")


@pytest.fixture
async def funded(client: httpx.AsyncClient, admin_headers: dict[str, str], buyer: Owner) -> Owner:
    """The buyer with 10,000 in the wallet."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000)
    return buyer
