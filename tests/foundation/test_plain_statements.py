"""``db.execute_plain``: statements sent on the session's driver connection belong to
the session's transaction and to the savepoint open around them, and fail as
SQLAlchemy's own statements fail."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db

Sessions = async_sessionmaker[AsyncSession]

TABLE = "CREATE TEMPORARY TABLE plain_rows (n integer PRIMARY KEY) ON COMMIT DROP"


async def _rows(session: AsyncSession) -> list[int]:
    cursor = await db.execute_plain(session, "SELECT n FROM plain_rows ORDER BY n", {})
    return [row[0] for row in await cursor.fetchall()]


async def _in_a_savepoint(session: AsyncSession, *numbers: int) -> None:
    async with session.begin_nested():
        for n in numbers:
            await db.execute_plain(session, "INSERT INTO plain_rows VALUES (%(n)s)", {"n": n})


async def test_a_failure_in_a_savepoint_rolls_back_to_it_and_the_transaction_goes_on(sessions: Sessions) -> None:
    """As ``outbound.queue_pump`` does around a job procrastinate may refuse: the driver
    connection is known before the savepoint begins, so only asking SQLAlchemy for it
    again sends the SAVEPOINT; without it the rollback leaves the transaction aborted."""
    async with db.transaction(sessions) as session:
        await db.execute_plain(session, TABLE, {})
        await db.execute_plain(session, "INSERT INTO plain_rows VALUES (1)", {})
        with pytest.raises(sa.exc.IntegrityError):
            await _in_a_savepoint(session, 2, 1)
        await db.execute_plain(session, "INSERT INTO plain_rows VALUES (3)", {})
        assert await _rows(session) == [1, 3]


async def test_a_savepoint_kept_keeps_what_was_sent_in_it(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        await db.execute_plain(session, TABLE, {})
        await _in_a_savepoint(session, 1)
        await _in_a_savepoint(session, 2)
        assert await _rows(session) == [1, 2]


async def test_a_refused_value_is_raised_as_sqlalchemy_raises_it(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        with pytest.raises(sa.exc.DataError):
            await db.execute_plain(session, "SELECT 1 / %(zero)s", {"zero": 0})
