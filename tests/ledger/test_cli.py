"""``sika check`` against a real database: exit 0 when the ledger holds, 1 on a breach."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from tests.ledger.conftest import Books

SIKA = str(Path(sys.executable).with_name("sika"))


def run_check(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run([SIKA, "check"], capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_check_passes_on_a_healthy_ledger(database_url: str, books: Books) -> None:
    result = run_check(database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The ledger's invariants hold." in result.stdout


async def test_check_fails_and_names_the_breach(
    database_url: str, books: Books, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE ledger_accounts SET debits_posted = debits_posted + 7 WHERE id = :id"), {"id": books.world}
        )
    result = run_check(database_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"[account_totals] ledger_account {books.world}" in result.stdout
    assert "[balanced] currency XOF" in result.stdout
    assert "The ledger's invariants are breached." in result.stderr
