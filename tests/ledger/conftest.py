from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.ledger import service as ledger_service
from sika.ledger.models import Account
from tests.conftest import TEST_ACTOR
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)


@dataclass(frozen=True)
class Books:
    """A world account (no flags), two overdraft-protected wallets and one
    debit-normal account, in XOF; ``alice`` starts with 1,000."""

    world: str
    alice: str
    bob: str
    receivable: str


@pytest.fixture
async def books(sessions: async_sessionmaker[AsyncSession]) -> Books:
    now = clock.now()
    async with db.transaction(sessions) as session:
        world = await ledger_service.create_account(session, currency="XOF", kind="world", now=now, actor=TEST_ACTOR)
        alice = await ledger_service.create_account(
            session,
            currency="XOF",
            kind="wallet",
            owner_type="party",
            owner_id="pty_alice",
            debits_must_not_exceed_credits=True,
            now=now,
            actor=TEST_ACTOR,
        )
        bob = await ledger_service.create_account(
            session,
            currency="XOF",
            kind="wallet",
            owner_type="party",
            owner_id="pty_bob",
            debits_must_not_exceed_credits=True,
            now=now,
            actor=TEST_ACTOR,
        )
        receivable = await ledger_service.create_account(
            session, currency="XOF", kind="receivable", credits_must_not_exceed_debits=True, now=now, actor=TEST_ACTOR
        )
        await ledger_service.create_transfer(
            session,
            debit_account_id=world.id,
            credit_account_id=alice.id,
            amount_minor=1000,
            currency="XOF",
            code="top_up",
            now=now,
            actor=TEST_ACTOR,
        )
    return Books(world=world.id, alice=alice.id, bob=bob.id, receivable=receivable.id)


@dataclass(frozen=True)
class Snapshot:
    totals: dict[str, tuple[int, int, int, int, int]]
    """Per account: debits/credits posted, debits/credits pending, version."""
    transfer_count: int
    timeout_count: int


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> Snapshot:
    """Everything a refused operation must leave as it was."""
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.select(
                Account.id,
                Account.debits_posted,
                Account.credits_posted,
                Account.debits_pending,
                Account.credits_pending,
                Account.version,
            )
        )
        totals = {row[0]: (row[1], row[2], row[3], row[4], row[5]) for row in rows}
        count = await session.scalar(sa.text("SELECT count(*) FROM ledger_transfers"))
        timeouts = await session.scalar(sa.text("SELECT count(*) FROM ledger_pending_timeouts"))
    return Snapshot(totals=totals, transfer_count=int(count or 0), timeout_count=int(timeouts or 0))


async def balance(sessions: async_sessionmaker[AsyncSession], account_id: str) -> ledger_service.Balance:
    async with db.transaction(sessions) as session:
        return await ledger_service.get_balance(session, account_id=account_id)


LOCK_WAIT_TIMEOUT_SECONDS = 60.0
"""How long a test waits for a concurrent transaction to reach a lock: far
more than it takes on any machine, so only a hang fails it."""


async def until_waiting_for_a_lock(sessions: async_sessionmaker[AsyncSession], backend_pid: int) -> None:
    """Return once the backend ``backend_pid`` waits for a lock: how a test
    knows, without sleeping for a guessed time, that a concurrent transaction
    has reached the point it races at."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_TIMEOUT_SECONDS
    while True:
        async with sessions() as session:
            waiting = await session.scalar(
                sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": backend_pid}
            )
        if waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, f"backend {backend_pid} never waited for a lock"
        await asyncio.sleep(0.01)


async def backend_pid(session: AsyncSession) -> int:
    pid = await session.scalar(sa.text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid
