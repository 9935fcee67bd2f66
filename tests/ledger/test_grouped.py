"""The grouped write path: transfers that arrive together share one
transaction, yet each is checked and answered on its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import clock
from sika.ledger import batcher
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books
from tests.support.ledger import balance, snapshot
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]


async def submit(engine: AsyncEngine, **kwargs: Any) -> ledger_service.TransferRecord:
    kwargs.setdefault("currency", "XOF")
    kwargs.setdefault("code", "grouped")
    return await ledger_service.submit_transfer(engine, now=clock.now(), actor=TEST_ACTOR, **kwargs)


def group_count() -> float:
    return REGISTRY.get_sample_value("sika_ledger_group_size_count") or 0.0


def split_count() -> float:
    """Groups that hit a unique violation and were written again one transfer at a time."""
    return REGISTRY.get_sample_value("sika_ledger_group_retries_total", {"reason": "split"}) or 0.0


async def test_a_refused_transfer_does_not_fail_its_neighbours(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    groups_before = group_count()
    transfers_before = (await snapshot(sessions)).transfer_count
    results = await asyncio.gather(
        submit(engine, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600),
        submit(engine, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600),
        submit(engine, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=400),
        submit(engine, debit_account_id=books.alice, credit_account_id="acct_missing", amount_minor=1),
        return_exceptions=True,
    )
    assert group_count() - groups_before == 1
    assert isinstance(results[0], ledger_service.TransferRecord)
    assert isinstance(results[1], ledger_service.InsufficientFunds)
    assert isinstance(results[2], ledger_service.TransferRecord)
    assert isinstance(results[3], ledger_service.AccountNotFound)
    alice = await balance(sessions, books.alice)
    bob = await balance(sessions, books.bob)
    assert (alice.posted_minor, bob.posted_minor) == (0, 1000)
    # Two transfers from alice to bob in one group: each account was written once.
    assert (alice.version, bob.version) == (2, 1)
    assert (await snapshot(sessions)).transfer_count == transfers_before + 2


async def test_a_repeated_id_in_one_burst_is_written_once(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    splits_before = split_count()
    results = await all_of(
        *(
            submit(
                engine,
                debit_account_id=books.alice,
                credit_account_id=books.bob,
                amount_minor=100,
                transfer_id="same-1",
            )
            for _ in range(5)
        )
    )
    assert {r.id for r in results} == {"same-1"}
    assert sorted(r.replayed for r in results) == [False, True, True, True, True]
    assert (await balance(sessions, books.bob)).posted_minor == 100
    # The repeats waited for the first one's group instead of racing it into
    # a unique violation, which would have rewritten their groups one by one.
    assert split_count() == splits_before


async def test_a_refusal_on_the_grouped_path_changes_nothing(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    before = await snapshot(sessions)
    with pytest.raises(ledger_service.ExceedsDebits):
        await submit(engine, debit_account_id=books.world, credit_account_id=books.receivable, amount_minor=1)
    assert await snapshot(sessions) == before


async def test_hot_account_many_callers(engine: AsyncEngine, sessions: Sessions, books: Books) -> None:
    results = await all_of(
        *(submit(engine, debit_account_id=books.world, credit_account_id=books.bob, amount_minor=3) for _ in range(200))
    )
    assert len({r.id for r in results}) == 200
    bob = await balance(sessions, books.bob)
    assert bob.posted_minor == 600
    assert bob.version < 200


async def batcher_connections(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = :name"
            ),
            {"name": batcher.APPLICATION_NAME},
        )
    return int(count or 0)


async def test_closing_answers_what_was_submitted_then_closes_its_connections(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    callers = [
        asyncio.ensure_future(submit(engine, debit_account_id=books.world, credit_account_id=books.bob, amount_minor=1))
        for _ in range(3)
    ]
    await asyncio.sleep(0)  # the callers have handed their transfers over; no group is being written yet
    await batcher.close_for_engine(engine)
    assert all(caller.done() for caller in callers)
    assert [caller.result().amount_minor for caller in callers] == [1, 1, 1]
    assert (await balance(sessions, books.bob)).posted_minor == 3
    assert await batcher_connections(sessions) == 0
