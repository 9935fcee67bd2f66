"""The grouped write path: transfers that arrive together share one
transaction, yet each is checked and answered on its own."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.context import Actor
from sika.ledger import batcher, repository
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books
from tests.support.ledger import balance, snapshot, terminate_waiting_batcher_backends
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]


async def submit(engine: AsyncEngine, *, actor: Actor = TEST_ACTOR, **kwargs: Any) -> ledger_service.TransferRecord:
    kwargs.setdefault("currency", "XOF")
    kwargs.setdefault("code", "grouped")
    return await ledger_service.submit_transfer(engine, now=clock.now(), actor=actor, **kwargs)


def group_count() -> float:
    return REGISTRY.get_sample_value("sika_ledger_group_size_count") or 0.0


def grouped_transfers() -> float:
    """Transfers sent in groups so far (the sum of the group sizes)."""
    return REGISTRY.get_sample_value("sika_ledger_group_size_sum") or 0.0


def split_count() -> float:
    """Groups (or parts of one) the database refused for one of their transfers, written again in halves."""
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
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
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


BAD_TRANSFERS: dict[str, dict[str, Any]] = {
    "nul_in_metadata": {"metadata": {"x": "\u0000"}},
    "nul_in_a_metadata_key": {"metadata": {"\u0000": 1}},
    "lone_surrogate_in_metadata": {"metadata": {"x": "\ud800"}},
    "nan_in_metadata": {"metadata": {"x": float("nan")}},
    # 14 short keys here; PostgreSQL writes each 1e300 in full, 301 digits: past 4 KiB.
    "metadata_larger_in_the_database": {"metadata": {f"k{i}": 1e300 for i in range(14)}},
    "nul_in_an_account_id": {"credit_account_id": "acct_\u0000"},
    "lone_surrogate_in_an_account_id": {"credit_account_id": "acct_\ud800"},
}
"""Input PostgreSQL cannot store as sent (text and jsonb refuse U+0000 and lone
surrogates, jsonb NaN), or that breaks a limit only the database measured."""


@pytest.mark.parametrize("bad", [pytest.param(fields, id=name) for name, fields in BAD_TRANSFERS.items()])
async def test_one_bad_transfer_among_30_good_ones_is_refused_alone_with_422(
    engine: AsyncEngine, sessions: Sessions, books: Books, bad: dict[str, Any]
) -> None:
    groups_before = group_count()
    before = await snapshot(sessions)
    good: dict[str, Any] = {"debit_account_id": books.world, "credit_account_id": books.bob, "amount_minor": 1}
    results = await asyncio.gather(
        *(submit(engine, **good) for _ in range(15)),
        submit(engine, **{**good, **bad}),
        *(submit(engine, **good) for _ in range(15)),
        return_exceptions=True,
    )
    refused = results.pop(15)
    assert isinstance(refused, ledger_service.InvalidTransfer), refused
    assert refused.status == 422
    assert all(isinstance(result, ledger_service.TransferRecord) for result in results), results
    # Refused before it joined: the 30 travelled together, in one group.
    assert group_count() - groups_before == 1
    assert (await balance(sessions, books.bob)).posted_minor == 30
    assert (await snapshot(sessions)).transfer_count == before.transfer_count + 30


async def test_a_transfer_the_database_refuses_inside_its_group_fails_alone_with_422(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    """Every check passes, but the database cannot store one value (an
    actor id with U+0000, which only code inside Sika could send): the group
    is written again in halves, the 30 others commit and it alone is refused."""
    groups_before, grouped_before, splits_before = group_count(), grouped_transfers(), split_count()
    before = await snapshot(sessions)
    good: dict[str, Any] = {"debit_account_id": books.world, "credit_account_id": books.bob, "amount_minor": 1}
    broken_actor = dataclasses.replace(TEST_ACTOR, id="test\u0000")
    results = await asyncio.gather(
        *(submit(engine, **good) for _ in range(15)),
        submit(engine, actor=broken_actor, **good),
        *(submit(engine, **good) for _ in range(15)),
        return_exceptions=True,
    )
    refused = results.pop(15)
    assert isinstance(refused, ledger_service.InvalidTransfer), refused
    assert all(isinstance(result, ledger_service.TransferRecord) for result in results), results
    assert (group_count() - groups_before, grouped_transfers() - grouped_before) == (1, 31)
    assert split_count() > splits_before
    assert (await balance(sessions, books.bob)).posted_minor == 30
    assert (await snapshot(sessions)).transfer_count == before.transfer_count + 30


async def test_the_batcher_gives_each_transfer_the_database_refuses_its_own_error(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    """Requests handed to the batcher directly, past the service's checks:
    one the database cannot store, one whose row breaks a CHECK constraint
    (a timeout on a transfer that is not pending).
    Each fails with its own error; the 30 others in their group commit."""
    good = [
        ledger_service.transfer_request(
            debit_account_id=books.world,
            credit_account_id=books.bob,
            amount_minor=1,
            currency="XOF",
            code="grouped",
            pending=False,
            timeout_seconds=None,
            transfer_id=None,
            metadata=None,
            journal_id=None,
            actor=TEST_ACTOR,
        )
        for _ in range(30)
    ]
    unstorable = dataclasses.replace(good[0], id="bad-nul", id_generated=False, metadata={"x": "\u0000"})
    timed_out_posted = dataclasses.replace(good[0], id="bad-timeout", id_generated=False, timeout_seconds=60)
    requests = [*good[:10], unstorable, *good[10:20], timed_out_posted, *good[20:]]
    grouped_before = grouped_transfers()
    writer = batcher.for_engine(engine)
    results = await asyncio.gather(
        *(writer.submit(request, now=clock.now()) for request in requests), return_exceptions=True
    )
    assert grouped_transfers() - grouped_before == 32
    assert isinstance(results.pop(21), psycopg.errors.CheckViolation)
    assert isinstance(results.pop(10), psycopg.DataError)
    assert all(isinstance(row, repository.AppliedRow) and row.error_code is None for row in results), results
    assert (await balance(sessions, books.bob)).posted_minor == 30


async def test_a_database_failure_fails_the_whole_group_as_ledger_busy(
    engine: AsyncEngine, sessions: Sessions, books: Books
) -> None:
    before = await snapshot(sessions)
    async with db.transaction(sessions) as locker:
        await locker.execute(sa.text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE"), {"id": books.bob})
        results = await asyncio.gather(
            *(
                submit(engine, debit_account_id=books.world, credit_account_id=books.bob, amount_minor=1)
                for _ in range(5)
            ),
            terminate_waiting_batcher_backends(sessions, batcher.MAX_ATTEMPTS),
            return_exceptions=True,
        )
    assert results.pop() is None
    for result in results:
        assert isinstance(result, ledger_service.LedgerBusy), result
        assert result.status == 503
        assert result.extra["retry_after_seconds"] == ledger_service.RETRY_AFTER_SECONDS
    assert await snapshot(sessions) == before
