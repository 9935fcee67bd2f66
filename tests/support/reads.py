"""What many tests read back after acting: a value straight from the database, a
wallet's available money over the API, an entity's domain events in order, and
``sika check`` run as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CHECK_TIMEOUT_SECONDS = 120


async def scalar(sessions: async_sessionmaker[AsyncSession], statement: str, **params: object) -> Any:
    async with sessions() as session:
        return await session.scalar(sa.text(statement), params)


async def available(client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str) -> int:
    wallet = (await client.get(f"/v1/wallets/{wallet_id}", headers=headers)).json()
    return int(wallet["available_minor"])


async def events_of(sessions: async_sessionmaker[AsyncSession], entity_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            sa.text("SELECT type FROM events WHERE entity_id = :id ORDER BY seq"), {"id": entity_id}
        )
        return [row[0] for row in rows]


def sika_check(database_url: str) -> subprocess.CompletedProcess[str]:
    """``sika check`` as an operator runs it, on the test's database."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "sika"), "check"],
        env={**os.environ, "DATABASE_URL": database_url, "SIKA_ENV": "test"},
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_SECONDS,
        check=False,
    )
