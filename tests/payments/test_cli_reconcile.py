"""``sika reconcile`` finishes open collections now, with the providers' answers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from tests.support.payments import Payer, initiated_collection, wallet_state

SIKA = str(Path(sys.executable).with_name("sika"))


async def test_reconcile_command_fails_a_collection_no_provider_got(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    kofi: Payer,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
) -> None:
    collection_id = await initiated_collection(sessions, kofi, amount_minor=1_500)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SIKA_RECONCILE_AFTER_SECONDS": "0",
        "SIKA_PAYSTACK_BASE_URL": settings.PAYSTACK_BASE_URL,
        "SIKA_FEDAPAY_BASE_URL": settings.FEDAPAY_BASE_URL,
        "SIKA_STRIPE_BASE_URL": settings.STRIPE_BASE_URL,
        "COLUMNS": "200",
    }
    # In a thread: the sandbox this command talks to shares this event loop's process.
    result = await asyncio.to_thread(
        subprocess.run, [SIKA, "reconcile"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "│ 1       │ 1       │ 0 " in result.stdout, result.stdout
    shown = (await client.get(f"/v1/collections/{collection_id}", headers=platform_headers)).json()
    assert shown["status"] == "failed"
    assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
