"""What tests of the ledger and of what stands on it check: that a refusal
moved nothing, balances, concurrent transactions caught at their lock, and
the grouped path's connections lost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from sika.ledger import batcher
from sika.ledger import service as ledger_service
from sika.ledger.models import Account

Sessions = async_sessionmaker[AsyncSession]

LOCK_WAIT_TIMEOUT_SECONDS = 60.0
"""How long a test waits for a concurrent transaction to reach a lock: far
more than it takes on any machine, so only a hang fails it."""


@dataclass(frozen=True)
class Snapshot:
    totals: dict[str, tuple[int, int, int, int, int]]
    """Per account: debits/credits posted, debits/credits pending, version."""
    transfer_count: int
    timeout_count: int


async def snapshot(sessions: Sessions) -> Snapshot:
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


async def refused_by_database(sessions: Sessions, statement: str, **params: object) -> str:
    """Run ``statement`` in a transaction of its own, around every check the
    application makes: the database must refuse it, at once or at commit,
    and the ledger must be as it was. Returns the database's message."""
    before = await snapshot(sessions)
    with pytest.raises(sa.exc.DBAPIError) as refused:
        async with db.transaction(sessions) as session:
            await session.execute(sa.text(statement), params)
    assert await snapshot(sessions) == before
    return str(refused.value.orig)


async def balance(sessions: Sessions, account_id: str) -> ledger_service.Balance:
    async with db.transaction(sessions) as session:
        return await ledger_service.get_balance(session, account_id=account_id)


async def counting_function_calls(session: AsyncSession) -> None:
    """Have PostgreSQL count the PL/pgSQL function calls of ``session``'s transaction (``function_calls``)."""
    await session.execute(sa.text("SET LOCAL track_functions = 'pl'"))


async def function_calls(session: AsyncSession, signature: str) -> int:
    """How many times the function ``signature`` ran so far in this transaction."""
    calls = await session.scalar(
        sa.text("SELECT coalesce(pg_stat_get_xact_function_calls(CAST(:signature AS regprocedure)), 0)"),
        {"signature": signature},
    )
    return int(calls)


async def backend_pid(session: AsyncSession) -> int:
    pid = await session.scalar(sa.text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def until_waiting_for_a_lock(sessions: Sessions, pid: int) -> None:
    """Return once the backend ``pid`` waits for a lock: how a test knows,
    without sleeping for a guessed time, that a concurrent transaction has
    reached the point it races at."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_TIMEOUT_SECONDS
    while True:
        async with sessions() as session:
            waiting = await session.scalar(
                sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": pid}
            )
        if waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, f"backend {pid} never waited for a lock"
        await asyncio.sleep(0.01)


async def terminate_waiting_batcher_backends(sessions: Sessions, times: int) -> None:
    """``times`` over, wait until a connection of the grouped path waits for a
    lock, and end its backend, as a database restart or an operator would."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_TIMEOUT_SECONDS
    for _ in range(times):
        while True:
            async with sessions() as session:
                pid = await session.scalar(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = :name AND wait_event_type = 'Lock' LIMIT 1"
                    ),
                    {"name": batcher.APPLICATION_NAME},
                )
                if pid is not None:
                    # Waits (up to 10 s) until the backend is gone, so it is not found twice.
                    await session.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
                    break
            assert asyncio.get_running_loop().time() < deadline, "no grouped-path connection waited for a lock"
            await asyncio.sleep(0.01)


async def connections_waiting_for_a_lock(session: AsyncSession) -> list[int]:
    """The backends of this database waiting for a lock now."""
    pids = await session.scalars(
        sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
    )
    return list(pids)


async def terminate_backend_waiting_for_a_lock(sessions: Sessions) -> None:
    """Wait until a connection waits for a lock, and end its backend, as a
    database restart or an operator would."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_TIMEOUT_SECONDS
    while True:
        async with sessions() as session:
            waiting = await connections_waiting_for_a_lock(session)
            if waiting:
                await session.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": waiting[0]})
                return
        assert asyncio.get_running_loop().time() < deadline, "no connection waited for a lock"
        await asyncio.sleep(0.01)


async def until_waiting_for_locks(sessions: Sessions, count: int) -> None:
    """Return once exactly ``count`` connections wait for a lock."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_TIMEOUT_SECONDS
    while True:
        async with sessions() as session:
            waiting = len(await connections_waiting_for_a_lock(session))
        if waiting == count:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{waiting} connections wait for a lock, not {count}"
        await asyncio.sleep(0.01)
