"""``sika reconcile`` finishes open collections now, with the providers' answers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.support.factories import PartyWallet
from tests.support.payments import World, initiated_collection
from tests.support.sandbox import SANDBOX_SECRETS

SIKA = str(Path(sys.executable).with_name("sika"))


async def test_reconcile_command_fails_a_collection_no_provider_got(world: World, kofi: PartyWallet) -> None:
    collection_id = await initiated_collection(world.sessions, kofi, amount_minor=1_500)
    env = {
        **os.environ,
        "DATABASE_URL": world.database_url,
        "SIKA_RECONCILE_AFTER_SECONDS": "0",
        "SIKA_PAYSTACK_BASE_URL": world.settings.PAYSTACK_BASE_URL,
        "SIKA_FEDAPAY_BASE_URL": world.settings.FEDAPAY_BASE_URL,
        "SIKA_STRIPE_BASE_URL": world.settings.STRIPE_BASE_URL,
        **{f"SIKA_{name}": value for name, value in SANDBOX_SECRETS.items()},
        "COLUMNS": "200",
    }
    # In a thread: the sandbox this command talks to shares this event loop's process.
    result = await asyncio.to_thread(
        subprocess.run, [SIKA, "reconcile"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "│ 1       │ 1       │ 0 " in result.stdout, result.stdout
    assert (await world.shown("collections", collection_id))["status"] == "failed"
    assert await world.wallet(kofi) == (0, 0)
