"""System accounts opened on first use, and an account's entries with its
totals before and after each transfer, derived from the transfers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.audit.models import AuditEvent
from sika.core import db
from sika.ledger import service as ledger_service
from sika.ledger.repository import Totals
from tests.conftest import TEST_ACTOR
from tests.support.ledger import snapshot
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def open_pair(sessions: Sessions) -> tuple[str, str]:
    """A funding account and a wallet-like account in XOF."""
    async with db.transaction(sessions) as session:
        funding = await ledger_service.create_account(
            session, currency="XOF", kind="funding", platform_id=None, now=NOW, actor=TEST_ACTOR
        )
        wallet = await ledger_service.create_account(
            session,
            currency="XOF",
            kind="wallet",
            owner_type="party",
            owner_id="pty_x",
            debits_must_not_exceed_credits=True,
            platform_id=None,
            now=NOW,
            actor=TEST_ACTOR,
        )
    return funding.id, wallet.id


class TestEnsureAccount:
    async def test_racing_callers_get_one_account_and_one_audit_row(self, sessions: Sessions) -> None:
        async def ensure() -> str:
            async with db.transaction(sessions) as session:
                account = await ledger_service.ensure_account(
                    session,
                    account_id="acct_fees_xof",
                    currency="XOF",
                    kind="platform.fees",
                    platform_id=None,
                    now=NOW,
                    actor=TEST_ACTOR,
                )
                return account.id

        ids = await all_of(*(ensure() for _ in range(8)))
        assert ids == ["acct_fees_xof"] * 8
        async with sessions() as session:
            audited = await session.scalar(
                sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.entity_id == "acct_fees_xof")
            )
        assert audited == 1

    async def test_refuses_an_existing_id_with_other_attributes(self, sessions: Sessions) -> None:
        async with db.transaction(sessions) as session:
            await ledger_service.ensure_account(
                session,
                account_id="acct_fees_xof",
                currency="XOF",
                kind="platform.fees",
                platform_id=None,
                now=NOW,
                actor=TEST_ACTOR,
            )
        before = await snapshot(sessions)
        async with db.transaction(sessions) as session:
            with pytest.raises(ledger_service.InvalidAccount):
                await ledger_service.ensure_account(
                    session,
                    account_id="acct_fees_xof",
                    currency="XOF",
                    kind="platform.fees",
                    debits_must_not_exceed_credits=True,
                    platform_id=None,
                    now=NOW,
                    actor=TEST_ACTOR,
                )
        assert await snapshot(sessions) == before
        async with sessions() as session:
            account = await ledger_service.get_account(session, account_id="acct_fees_xof")
        assert (account.kind, account.debits_must_not_exceed_credits) == ("platform.fees", False)


class TestAccountEntries:
    async def test_each_entry_carries_the_totals_around_it(self, sessions: Sessions) -> None:
        funding, wallet = await open_pair(sessions)
        async with db.transaction(sessions) as session:
            await ledger_service.create_transfer(
                session,
                debit_account_id=funding,
                credit_account_id=wallet,
                amount_minor=1000,
                currency="XOF",
                code="top_up",
                now=NOW,
                actor=TEST_ACTOR,
            )
            first = await ledger_service.create_transfer(
                session,
                debit_account_id=wallet,
                credit_account_id=funding,
                amount_minor=300,
                currency="XOF",
                code="hold",
                pending=True,
                metadata={"reason": "order 1"},
                now=NOW,
                actor=TEST_ACTOR,
            )
            await ledger_service.post_pending(session, pending_id=first.id, amount_minor=200, now=NOW, actor=TEST_ACTOR)
            second = await ledger_service.create_transfer(
                session,
                debit_account_id=wallet,
                credit_account_id=funding,
                amount_minor=100,
                currency="XOF",
                code="hold",
                pending=True,
                now=NOW,
                actor=TEST_ACTOR,
            )
            await ledger_service.void_pending(session, pending_id=second.id, now=NOW, actor=TEST_ACTOR)
        async with sessions() as session:
            entries = await ledger_service.list_account_entries(session, account_id=wallet)
        assert [(e.kind, e.side, e.amount_minor, e.before, e.after) for e in entries] == [
            ("void_pending", "debit", 100, Totals(200, 1000, 100, 0), Totals(200, 1000, 0, 0)),
            ("pending", "debit", 100, Totals(200, 1000, 0, 0), Totals(200, 1000, 100, 0)),
            ("post_pending", "debit", 200, Totals(0, 1000, 300, 0), Totals(200, 1000, 0, 0)),
            ("pending", "debit", 300, Totals(0, 1000, 0, 0), Totals(0, 1000, 300, 0)),
            ("posted", "credit", 1000, Totals(0, 0, 0, 0), Totals(0, 1000, 0, 0)),
        ]
        posted = entries[2]
        assert posted.pending_id == first.id
        assert posted.pending_amount_minor == 300
        assert posted.pending_metadata == {"reason": "order 1"}

    async def test_pages_agree_with_the_whole(self, sessions: Sessions) -> None:
        funding, wallet = await open_pair(sessions)
        async with db.transaction(sessions) as session:
            for amount in range(1, 8):
                await ledger_service.create_transfer(
                    session,
                    debit_account_id=funding,
                    credit_account_id=wallet,
                    amount_minor=amount,
                    currency="XOF",
                    code="top_up",
                    now=NOW,
                    actor=TEST_ACTOR,
                )
        async with sessions() as session:
            whole = await ledger_service.list_account_entries(session, account_id=wallet, limit=50)
            pages = []
            cursor = None
            while True:
                page = await ledger_service.list_account_entries(session, account_id=wallet, before_seq=cursor, limit=3)
                pages.extend(page)
                if len(page) < 3:
                    break
                cursor = page[-1].seq
        assert pages == whole
        assert [e.after.credits_posted for e in whole] == [28, 21, 15, 10, 6, 3, 1]

    async def test_posted_flows_count_posted_money_in_the_window(self, sessions: Sessions) -> None:
        funding, wallet = await open_pair(sessions)
        async with db.transaction(sessions) as session:
            for when, amount in ((NOW - timedelta(days=40), 5), (NOW, 700)):
                await ledger_service.create_transfer(
                    session,
                    debit_account_id=funding,
                    credit_account_id=wallet,
                    amount_minor=amount,
                    currency="XOF",
                    code="top_up",
                    now=when,
                    actor=TEST_ACTOR,
                )
            hold = await ledger_service.create_transfer(
                session,
                debit_account_id=wallet,
                credit_account_id=funding,
                amount_minor=300,
                currency="XOF",
                code="hold",
                pending=True,
                now=NOW,
                actor=TEST_ACTOR,
            )
            await ledger_service.post_pending(session, pending_id=hold.id, amount_minor=120, now=NOW, actor=TEST_ACTOR)
        async with sessions() as session:
            flows = await ledger_service.posted_flows(
                session,
                account_ids=[wallet, "acct_unused"],
                since=NOW - timedelta(days=1),
                until=NOW + timedelta(days=1),
            )
        assert flows == {wallet: (120, 700), "acct_unused": (0, 0)}
