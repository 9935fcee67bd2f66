"""The rules of the ledger, through the in-transaction service; every
refusal also proves that balances, transfers and the expiry list did not move."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, errors, money
from sika.ledger import repository as ledger_repository
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books
from tests.support.ledger import balance, refused_by_database, snapshot

Sessions = async_sessionmaker[AsyncSession]


def create(session: AsyncSession, **kwargs: Any) -> Coroutine[Any, Any, ledger_service.TransferRecord]:
    """``create_transfer`` in XOF, code ``test``, now, by the test actor, unless told otherwise."""
    kwargs.setdefault("currency", "XOF")
    kwargs.setdefault("code", "test")
    kwargs.setdefault("now", clock.now())
    return ledger_service.create_transfer(session, actor=TEST_ACTOR, **kwargs)


async def transfer(sessions: Sessions, **kwargs: Any) -> ledger_service.TransferRecord:
    async with db.transaction(sessions) as session:
        return await create(session, **kwargs)


async def refused(sessions: Sessions, error: type[errors.SikaError], coro_factory: Any) -> errors.SikaError:
    before = await snapshot(sessions)
    with pytest.raises(error) as caught:
        async with db.transaction(sessions) as session:
            await coro_factory(session)
    assert await snapshot(sessions) == before
    return caught.value


class TestPostedTransfers:
    async def test_moves_money_and_bumps_versions(self, sessions: Sessions, books: Books) -> None:
        record = await transfer(sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=300)
        assert (record.kind, record.amount_minor, record.replayed) == ("posted", 300, False)
        alice = await balance(sessions, books.alice)
        bob = await balance(sessions, books.bob)
        assert (alice.posted_minor, alice.available_minor, alice.version) == (700, 700, 2)
        assert (bob.posted_minor, bob.available_minor, bob.version) == (300, 300, 1)

    async def test_overdraft_is_refused_with_insufficient_funds(self, sessions: Sessions, books: Books) -> None:
        error = await refused(
            sessions,
            ledger_service.InsufficientFunds,
            lambda s: create(s, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=1001),
        )
        assert error.code == "insufficient_funds"
        assert error.detail == f"Account {books.alice} has 1000 available; 1001 requested."

    async def test_credit_limit_of_debit_normal_account(self, sessions: Sessions, books: Books) -> None:
        await refused(
            sessions,
            ledger_service.ExceedsDebits,
            lambda s: create(s, debit_account_id=books.alice, credit_account_id=books.receivable, amount_minor=1),
        )

    @pytest.mark.parametrize(
        ("changes", "error"),
        [
            ({"currency": "EUR"}, ledger_service.CurrencyMismatch),
            ({"currency": "ZZZ"}, money.UnknownCurrency),
            ({"amount_minor": 0}, ledger_service.InvalidAmount),
            ({"amount_minor": -5}, ledger_service.InvalidAmount),
            ({"amount_minor": money.MAX_AMOUNT_MINOR + 1}, ledger_service.AmountOverflow),
            ({"credit_account_id": "acct_missing"}, ledger_service.AccountNotFound),
            ({"credit_account_id": "SAME"}, ledger_service.SameAccount),
            ({"code": "Not A Code"}, ledger_service.InvalidTransfer),
            ({"transfer_id": "bad id!"}, ledger_service.InvalidTransfer),
            ({"metadata": {"k": "x" * 5000}}, ledger_service.InvalidTransfer),
            ({"timeout_seconds": 30}, ledger_service.InvalidTransfer),
        ],
    )
    async def test_invalid_transfers_are_refused(
        self, sessions: Sessions, books: Books, changes: dict[str, Any], error: type[errors.SikaError]
    ) -> None:
        arguments: dict[str, Any] = {
            "debit_account_id": books.alice,
            "credit_account_id": books.bob,
            "amount_minor": 10,
            "currency": "XOF",
            "code": "test",
            "now": clock.now(),
            "actor": TEST_ACTOR,
            **changes,
        }
        if arguments["credit_account_id"] == "SAME":
            arguments["credit_account_id"] = books.alice
        await refused(sessions, error, lambda s: ledger_service.create_transfer(s, **arguments))

    async def test_same_id_same_content_returns_the_original(self, sessions: Sessions, books: Books) -> None:
        first = await transfer(
            sessions,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=50,
            transfer_id="order-17",
            metadata={"order": 17},
        )
        before = await snapshot(sessions)
        again = await transfer(
            sessions,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=50,
            transfer_id="order-17",
            metadata={"order": 17},
        )
        assert again.replayed is True
        assert (again.id, again.amount_minor, again.created_at) == (first.id, 50, first.created_at)
        assert await snapshot(sessions) == before

    async def test_same_id_other_content_is_a_conflict(self, sessions: Sessions, books: Books) -> None:
        await transfer(
            sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=50, transfer_id="order-18"
        )
        error = await refused(
            sessions,
            ledger_service.TransferExists,
            lambda s: create(
                s, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=51, transfer_id="order-18"
            ),
        )
        assert error.status == 409

    async def test_closed_account_takes_no_transfers(self, sessions: Sessions, books: Books) -> None:
        async with db.transaction(sessions) as session:
            closed = await ledger_service.close_account(
                session, account_id=books.bob, now=clock.now(), actor=TEST_ACTOR
            )
        assert closed.closed_at is not None
        await refused(
            sessions,
            ledger_service.AccountClosed,
            lambda s: create(s, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=5),
        )

    async def test_overflowing_total_is_refused_not_wrapped(self, sessions: Sessions, books: Books) -> None:
        big = money.MAX_AMOUNT_MINOR - 1000  # the world account has already sent 1,000
        await transfer(sessions, debit_account_id=books.world, credit_account_id=books.bob, amount_minor=big)
        await refused(
            sessions,
            ledger_service.AmountOverflow,
            lambda s: create(s, debit_account_id=books.world, credit_account_id=books.bob, amount_minor=1),
        )
        assert (await balance(sessions, books.bob)).credits_posted == big


class TestPendingTransfers:
    async def test_pending_holds_funds_until_posted_in_part(self, sessions: Sessions, books: Books) -> None:
        now = clock.now()
        hold = await transfer(
            sessions,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=600,
            pending=True,
            timeout_seconds=60,
            now=now,
        )
        assert hold.expires_at == now + timedelta(seconds=60)
        alice = await balance(sessions, books.alice)
        assert (alice.posted_minor, alice.pending_minor, alice.available_minor) == (1000, -600, 400)
        await refused(
            sessions,
            ledger_service.InsufficientFunds,
            lambda s: create(s, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=401),
        )
        async with db.transaction(sessions) as session:
            posted = await ledger_service.post_pending(
                session, pending_id=hold.id, amount_minor=250, now=now, actor=TEST_ACTOR
            )
        assert (posted.kind, posted.amount_minor, posted.pending_id, posted.code) == (
            "post_pending",
            250,
            hold.id,
            "test",
        )
        assert (posted.debit_account_id, posted.credit_account_id) == (books.alice, books.bob)
        alice = await balance(sessions, books.alice)
        bob = await balance(sessions, books.bob)
        assert (alice.posted_minor, alice.pending_minor, alice.available_minor) == (750, 0, 750)
        assert (bob.posted_minor, bob.pending_minor) == (250, 0)
        assert (await snapshot(sessions)).timeout_count == 0

    async def test_void_returns_everything_and_resolves_once(self, sessions: Sessions, books: Books) -> None:
        hold = await transfer(
            sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600, pending=True
        )
        async with db.transaction(sessions) as session:
            voided = await ledger_service.void_pending(session, pending_id=hold.id, now=clock.now(), actor=TEST_ACTOR)
        assert (voided.kind, voided.amount_minor) == ("void_pending", 600)
        alice = await balance(sessions, books.alice)
        assert (alice.posted_minor, alice.available_minor, alice.debits_pending) == (1000, 1000, 0)
        for resolve in (
            lambda s: ledger_service.void_pending(s, pending_id=hold.id, now=clock.now(), actor=TEST_ACTOR),
            lambda s: ledger_service.post_pending(s, pending_id=hold.id, now=clock.now(), actor=TEST_ACTOR),
        ):
            await refused(sessions, ledger_service.PendingTransferAlreadyResolved, resolve)

    @pytest.mark.parametrize(
        ("pending_id", "amount", "error"),
        [
            ("xfr_missing", None, ledger_service.PendingTransferNotFound),
            ("POSTED", None, ledger_service.TransferNotPending),
            ("HOLD", 601, ledger_service.AmountExceedsPending),
        ],
    )
    async def test_bad_posts_are_refused(
        self, sessions: Sessions, books: Books, pending_id: str, amount: int | None, error: type[errors.SikaError]
    ) -> None:
        hold = await transfer(
            sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600, pending=True
        )
        posted = await transfer(sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=1)
        target = {"POSTED": posted.id, "HOLD": hold.id}.get(pending_id, pending_id)
        await refused(
            sessions,
            error,
            lambda s: ledger_service.post_pending(
                s, pending_id=target, amount_minor=amount, now=clock.now(), actor=TEST_ACTOR
            ),
        )

    async def test_expired_pending_cannot_be_posted_and_is_expired_by_the_job(
        self, sessions: Sessions, books: Books
    ) -> None:
        start = clock.now()
        hold = await transfer(
            sessions,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=600,
            pending=True,
            timeout_seconds=30,
            now=start,
        )
        later = start + timedelta(seconds=31)
        await refused(
            sessions,
            ledger_service.PendingTransferExpired,
            lambda s: ledger_service.post_pending(s, pending_id=hold.id, now=later, actor=TEST_ACTOR),
        )
        async with db.transaction(sessions) as session:
            assert (
                await ledger_service.expire_pending(session, now=start + timedelta(seconds=29), actor=TEST_ACTOR) == 0
            )
        async with db.transaction(sessions) as session:
            assert await ledger_service.expire_pending(session, now=later, actor=TEST_ACTOR) == 1
        async with db.transaction(sessions) as session:
            resolution = await ledger_repository.resolution_of(session, hold.id)
        assert resolution is not None
        assert (resolution.kind, resolution.amount_minor) == ("expire_pending", 600)
        alice = await balance(sessions, books.alice)
        assert (alice.available_minor, alice.debits_pending) == (1000, 0)
        assert (await snapshot(sessions)).timeout_count == 0

    async def test_expiry_works_in_bounded_batches(self, sessions: Sessions, books: Books) -> None:
        start = clock.now()
        for _ in range(5):
            await transfer(
                sessions,
                debit_account_id=books.alice,
                credit_account_id=books.bob,
                amount_minor=10,
                pending=True,
                timeout_seconds=1,
                now=start,
            )
        later = start + timedelta(seconds=2)
        async with db.transaction(sessions) as session:
            assert await ledger_service.expire_pending(session, now=later, actor=TEST_ACTOR, batch_size=3) == 3
        async with db.transaction(sessions) as session:
            assert await ledger_service.expire_pending(session, now=later, actor=TEST_ACTOR, batch_size=3) == 2
        assert (await balance(sessions, books.alice)).debits_pending == 0

    async def test_close_refused_while_pending_is_open(self, sessions: Sessions, books: Books) -> None:
        await transfer(
            sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=10, pending=True
        )
        await refused(
            sessions,
            ledger_service.AccountHasPendingTransfers,
            lambda s: ledger_service.close_account(s, account_id=books.alice, now=clock.now(), actor=TEST_ACTOR),
        )


class TestJournalEntries:
    async def test_all_legs_apply_in_order(self, sessions: Sessions, books: Books) -> None:
        legs = [
            ledger_service.Leg(
                debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=1000, currency="XOF", code="pay"
            ),
            ledger_service.Leg(
                debit_account_id=books.bob, credit_account_id=books.world, amount_minor=1000, currency="XOF", code="fee"
            ),
        ]
        async with db.transaction(sessions) as session:
            entry = await ledger_service.create_journal_entry(session, legs=legs, now=clock.now(), actor=TEST_ACTOR)
        assert entry.id.startswith("jrn_")
        assert [t.journal_id for t in entry.transfers] == [entry.id, entry.id]
        assert (await balance(sessions, books.bob)).posted_minor == 0

    async def test_one_failing_leg_applies_nothing_and_is_named(self, sessions: Sessions, books: Books) -> None:
        legs = [
            ledger_service.Leg(
                debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600, currency="XOF", code="pay"
            ),
            ledger_service.Leg(
                debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600, currency="XOF", code="pay"
            ),
        ]
        error = await refused(
            sessions,
            ledger_service.InsufficientFunds,
            lambda s: ledger_service.create_journal_entry(s, legs=legs, now=clock.now(), actor=TEST_ACTOR),
        )
        assert error.extra["leg"] == 1
        assert error.detail == f"Leg 1: Account {books.alice} has 400 available; 600 requested."


class TestDatabaseRefuses:
    """The database itself, without the service: no code path can break these."""

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_transfers SET amount_minor = amount_minor + 1",
            "DELETE FROM ledger_transfers",
            "TRUNCATE ledger_transfers CASCADE",
            "DELETE FROM ledger_accounts",
            "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE debits_must_not_exceed_credits",
            "UPDATE ledger_accounts SET credits_posted = 9223372036854775807 + 1",
            "UPDATE ledger_accounts SET currency = 'EUR'",
            "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code)"
            " SELECT 'x', 'posted', a.id, b.id, 0, 'XOF', 't' FROM ledger_accounts a, ledger_accounts b"
            " WHERE a.id <> b.id LIMIT 1",
        ],
    )
    async def test_direct_sql_is_refused(self, sessions: Sessions, books: Books, statement: str) -> None:
        await refused_by_database(sessions, statement)

    async def test_closed_account_totals_cannot_move(self, sessions: Sessions, books: Books) -> None:
        async with db.transaction(sessions) as session:
            await ledger_service.close_account(session, account_id=books.bob, now=clock.now(), actor=TEST_ACTOR)
        message = await refused_by_database(
            sessions, "UPDATE ledger_accounts SET credits_posted = 1 WHERE id = :id", id=books.bob
        )
        assert f"ledger account {books.bob} is closed" in message

    async def test_a_resolution_must_match_its_pending_transfer(self, sessions: Sessions, books: Books) -> None:
        hold = await transfer(
            sessions, debit_account_id=books.alice, credit_account_id=books.bob, amount_minor=600, pending=True
        )
        message = await refused_by_database(
            sessions,
            "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id,"
            " amount_minor, currency, code, pending_id)"
            " VALUES ('forged', 'post_pending', :debit, :credit, 601, 'XOF', 't', :pending)",
            debit=books.alice,
            credit=books.bob,
            pending=hold.id,
        )
        assert f"does not match the pending transfer {hold.id}" in message
