"""A ledger call refused in a caller's transaction for a missing account keeps
none of the accounts it locked: a caller that then opens the account and calls
again (a platform's fee account, opened on a capture's first use) must not
hold them while it waits for another first use's opening of that account,
which waits for them. Two first captures of a platform used to deadlock so,
and answered 503 ``ledger_busy`` after the retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books

Sessions = async_sessionmaker[AsyncSession]
FEES = "acct_test_fees_xof"
OTHER_FINISHES_WITHIN_SECONDS = 10.0
"""The other transaction needs no lock the refused call could keep: it finishes at once,
or, with the locks kept, waits until the first transaction ends."""

Pay = Callable[[AsyncSession], Awaitable[object]]


async def _open_fees(session: AsyncSession) -> None:
    await ledger_service.ensure_account(
        session,
        account_id=FEES,
        currency="XOF",
        kind="platform.fees",
        debits_must_not_exceed_credits=True,
        platform_id=None,
        now=clock.now(),
        actor=TEST_ACTOR,
    )


def _journal(books: Books) -> Pay:
    legs = [
        ledger_service.Leg(
            debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=90, currency="XOF", code="pay"
        ),
        ledger_service.Leg(
            debit_account_id=books.alice, credit_account_id=FEES, amount_minor=10, currency="XOF", code="fee"
        ),
    ]

    async def pay(session: AsyncSession) -> object:
        return await ledger_service.create_journal_entry(session, legs=legs, now=clock.now(), actor=TEST_ACTOR)

    return pay


def _transfer(books: Books) -> Pay:
    async def pay(session: AsyncSession) -> object:
        return await ledger_service.create_transfer(
            session,
            debit_account_id=books.alice,
            credit_account_id=FEES,
            amount_minor=100,
            currency="XOF",
            code="fee",
            now=clock.now(),
            actor=TEST_ACTOR,
        )

    return pay


async def _balance(sessions: Sessions, account_id: str) -> int:
    async with sessions() as session:
        balance = await ledger_service.get_balance(session, account_id=account_id)
    return balance.credits_posted - balance.debits_posted


@pytest.mark.parametrize("shape", [_journal, _transfer], ids=["general path", "one-transfer short path"])
async def test_two_first_uses_of_a_missing_account_both_pass(
    sessions: Sessions, books: Books, shape: Callable[[Books], Pay]
) -> None:
    pay = shape(books)
    async with sessions() as first, sessions() as second:
        await first.begin()
        with pytest.raises(ledger_service.AccountNotFound):
            await pay(first)

        async def other_first_use() -> None:
            async with second.begin():
                await _open_fees(second)
                await pay(second)

        other = asyncio.create_task(other_first_use())
        done, _ = await asyncio.wait({other}, timeout=OTHER_FINISHES_WITHIN_SECONDS)
        if not done:
            await first.rollback()
            await other
            pytest.fail("the refused call kept the accounts it locked until its transaction ended")
        other.result()
        await _open_fees(first)
        await pay(first)
        await first.commit()
    assert await _balance(sessions, FEES) == (20 if shape is _journal else 200)
    assert await _balance(sessions, books.alice) == 1000 - 200
    async with sessions() as session:
        transfers = await session.scalar(sa.text("SELECT count(*) FROM ledger_transfers"))
    assert transfers == (1 + 4 if shape is _journal else 1 + 2)
