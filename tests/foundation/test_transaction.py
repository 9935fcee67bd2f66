"""``db.transaction``, the unit of work of every request and job: what the block
did commits when it ends, and nothing of it when it raises or its task is
cancelled; the connection goes back to the pool in every case; the driver
connection is known from the start, in the transaction; and what the
transaction made is freed when it ends, not left to the garbage collector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import db
from tests.support.garbage import left_in_cycles

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def table(sessions: Sessions) -> str:
    async with db.transaction(sessions) as session:
        await session.execute(sa.text("DROP TABLE IF EXISTS transaction_rows"))
        await session.execute(sa.text("CREATE TABLE transaction_rows (n integer PRIMARY KEY)"))
    return "transaction_rows"


async def _rows(sessions: Sessions) -> list[int]:
    async with db.transaction(sessions) as session:
        return list((await session.scalars(sa.text("SELECT n FROM transaction_rows ORDER BY n"))).all())


def _checked_out(engine: AsyncEngine) -> int:
    pool: Any = engine.pool
    return int(pool.checkedout())


async def _refused_and_nothing_kept(
    engine: AsyncEngine, sessions: Sessions, block: Callable[[], Awaitable[None]], error: type[BaseException]
) -> None:
    with pytest.raises(error):
        await block()
    assert _checked_out(engine) == 0
    assert await _rows(sessions) == []


async def test_what_the_block_did_commits_when_it_ends(engine: AsyncEngine, sessions: Sessions, table: str) -> None:
    async with db.transaction(sessions) as session:
        await db.execute_plain(session, "INSERT INTO transaction_rows VALUES (1)", {})
        await session.execute(sa.text("INSERT INTO transaction_rows VALUES (2)"))
        assert _checked_out(engine) == 1

    assert _checked_out(engine) == 0
    assert await _rows(sessions) == [1, 2]


async def test_nothing_of_a_block_that_raises_is_kept(engine: AsyncEngine, sessions: Sessions, table: str) -> None:
    async def block() -> None:
        async with db.transaction(sessions) as session:
            await db.execute_plain(session, "INSERT INTO transaction_rows VALUES (1)", {})
            await session.execute(sa.text("INSERT INTO transaction_rows VALUES (2)"))
            raise LookupError

    await _refused_and_nothing_kept(engine, sessions, block, LookupError)


async def test_a_commit_that_fails_is_raised_and_keeps_nothing(
    engine: AsyncEngine, sessions: Sessions, table: str
) -> None:
    """A deferred constraint is checked by the commit, which the block's end sends."""
    async with db.transaction(sessions) as session:
        await session.execute(sa.text("ALTER TABLE transaction_rows DROP CONSTRAINT transaction_rows_pkey"))
        await session.execute(
            sa.text("ALTER TABLE transaction_rows ADD CONSTRAINT once UNIQUE (n) DEFERRABLE INITIALLY DEFERRED")
        )

    async def block() -> None:
        async with db.transaction(sessions) as session:
            await db.execute_plain(session, "INSERT INTO transaction_rows VALUES (7), (8)", {})
            await db.execute_plain(session, "INSERT INTO transaction_rows VALUES (7)", {})

    await _refused_and_nothing_kept(engine, sessions, block, sa.exc.IntegrityError)


async def test_a_cancelled_block_keeps_nothing_and_gives_its_connection_back(
    engine: AsyncEngine, sessions: Sessions, table: str
) -> None:
    """As when a client goes away mid-request: the task is cancelled while it waits
    on the database, and the session is still closed before the cancellation goes on."""
    inside = asyncio.Event()

    async def block() -> None:
        async with db.transaction(sessions) as session:
            await db.execute_plain(session, "INSERT INTO transaction_rows VALUES (1)", {})
            inside.set()
            await db.execute_plain(session, "SELECT pg_sleep(30)", {})

    task = asyncio.create_task(block())
    await inside.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    await _refused_and_nothing_kept(engine, sessions, lambda: task, asyncio.CancelledError)


async def test_the_driver_connection_is_the_sessions_own_from_the_start(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        known = await db.driver_connection(session)
        raw = await (await session.connection()).get_raw_connection()
        assert known is raw.driver_connection
        plain = await (await db.execute_plain(session, "SELECT txid_current()", {})).fetchone()
        assert plain == ((await session.execute(sa.text("SELECT txid_current()"))).scalar_one(),)


async def test_an_ended_transaction_is_freed_without_the_garbage_collector(sessions: Sessions) -> None:
    """Kept strongly in the session's ``info``, the transaction the driver connection
    was known for held the session in a cycle: some forty objects a request that only
    the collector freed, walking them all again at each of its passes."""

    async def unit_of_work() -> None:
        async with db.transaction(sessions) as session:
            await db.execute_plain(session, "SELECT 1", {})
            await session.execute(sa.text("SELECT 1"))

    await unit_of_work()
    with left_in_cycles() as left:
        for _ in range(3):
            await unit_of_work()

    assert left == []
