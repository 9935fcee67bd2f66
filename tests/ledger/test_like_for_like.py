"""One posted transfer with a fresh id takes ``ledger_apply_transfers``' short
path (docs/ledger.md, "Performance"): it answers, moves and refuses exactly as
the general path does, and its write sets only the totals a posted transfer
moves. The guards on ``ledger_accounts`` about columns a transfer never sets
name those columns, so a transfer's update meets one small WHEN clause (the
closed account's), and each still refuses what it refused."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.ledger import repository
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books
from tests.support.ledger import refused_by_database, snapshot

Sessions = async_sessionmaker[AsyncSession]

MAX_BIGINT = 9223372036854775807


def _in_sqlalchemy_style(statement: str) -> sa.TextClause:
    return sa.text(statement.replace("%(", ":").replace(")b", ""))


APPLY = _in_sqlalchemy_style(repository.APPLY_SQL)
"""The call with arrays of any length, in SQLAlchemy's parameter style."""
APPLY_ONE = _in_sqlalchemy_style(repository.APPLY_ONE_SQL)
"""The call for one transfer (``repository.call``), the same way."""


@dataclass(frozen=True)
class Case:
    debit: str
    credit: str
    amount: int
    currency: str = "XOF"
    refuse_managed: bool = False


CASES: dict[str, Case] = {
    "accepted": Case("world", "alice", 100),
    "all of a protected balance": Case("alice", "bob", 1000),
    "insufficient funds": Case("alice", "bob", 1001),
    "one account": Case("alice", "alice", 1),
    "no such debit account": Case("acct_nowhere", "alice", 1),
    "no such credit account": Case("alice", "acct_nowhere", 1),
    "another currency": Case("world", "alice", 1, currency="EUR"),
    "zero": Case("world", "alice", 0),
    "negative": Case("world", "alice", -5),
    "credits beyond debits": Case("world", "receivable", 1),
    "debit of a debit-normal account": Case("receivable", "world", 50),
    "overflow": Case("world", "bob", MAX_BIGINT),
    "closed account": Case("world", "closed", 1),
    "managed account refused": Case("world", "managed", 1, refuse_managed=True),
    "managed account allowed": Case("world", "managed", 1),
}


@pytest.fixture
async def accounts(sessions: Sessions, books: Books) -> dict[str, str]:
    """The books, with a closed account and a managed one."""
    now = clock.now()
    async with db.transaction(sessions) as session:
        closed = await ledger_service.create_account(
            session, currency="XOF", kind="sink", platform_id=None, now=now, actor=TEST_ACTOR
        )
        await ledger_service.close_account(session, account_id=closed.id, now=now, actor=TEST_ACTOR)
        managed = await ledger_service.create_account(
            session, currency="XOF", kind="fees", managed=True, platform_id=None, now=now, actor=TEST_ACTOR
        )
    return {
        "world": books.world,
        "alice": books.alice,
        "bob": books.bob,
        "receivable": books.receivable,
        "closed": closed.id,
        "managed": managed.id,
        "acct_nowhere": "acct_nowhere",
    }


async def _apply_and_undo(
    sessions: Sessions,
    case: Case,
    accounts: dict[str, str],
    *,
    check_existing: bool,
    lock_retries: int,
    now: datetime,
    one: bool = False,
    described: bool = False,
) -> tuple[list[Any], dict[str, Any]]:
    """The function's answer to ``case`` and what it changed, then rolled back.
    ``check_existing`` sends the same transfer down the general path; ``one``
    sends it as ``repository.call`` does (each array built from its one value);
    ``described`` gives it metadata and a request id."""
    request = repository.TransferRequest(
        id="xfr_like_for_like",
        kind="posted",
        debit_account_id=accounts[case.debit],
        credit_account_id=accounts[case.credit],
        amount_minor=case.amount,
        currency=case.currency,
        code="test",
        pending_id=None,
        timeout_seconds=None,
        metadata={"order": "o_42", "lines": [1, 2]} if described else None,
        journal_id=None,
        actor_id=TEST_ACTOR.id,
        request_id="req_like_for_like" if described else None,
        id_generated=True,
        refuse_managed=case.refuse_managed,
    )
    parameters = repository.apply_parameters(
        [request], now=now, atomic=False, lock_retries=lock_retries, check_existing=check_existing
    )
    if one:
        statement, parameters = repository.call(parameters)
        assert statement == repository.APPLY_ONE_SQL
    async with sessions() as session, session.begin() as transaction:
        rows = (await session.execute(APPLY_ONE if one else APPLY, parameters)).all()
        changed = await session.execute(
            sa.text(
                "SELECT (SELECT array_agg(row(id, debits_posted, credits_posted, debits_pending, credits_pending,"
                " version, updated_at) ORDER BY id)::text FROM ledger_accounts),"
                " (SELECT array_agg(row(id, kind, debit_account_id, credit_account_id, amount_minor, currency, code,"
                " pending_id, timeout_seconds, expires_at, journal_id, metadata, created_at)::text)"
                "    FROM ledger_transfers WHERE id = 'xfr_like_for_like'),"
                " (SELECT array_agg(row(actor, action, entity_id, data, request_id, created_at)::text)"
                "    FROM audit_events WHERE entity_id = 'xfr_like_for_like')"
            )
        )
        state = dict(zip(("accounts", "transfer", "audit"), changed.one(), strict=True))
        await transaction.rollback()
    return [tuple(row) for row in rows], state


@pytest.mark.parametrize("lock_retries", [0, repository.IN_TRANSACTION_LOCK_RETRIES], ids=["grouped", "in_transaction"])
@pytest.mark.parametrize("name", list(CASES))
async def test_the_short_path_answers_and_moves_as_the_general_path(
    sessions: Sessions, accounts: dict[str, str], name: str, lock_retries: int
) -> None:
    case = CASES[name]
    now = clock.now()
    before = await snapshot(sessions)

    short = await _apply_and_undo(sessions, case, accounts, check_existing=False, lock_retries=lock_retries, now=now)
    general = await _apply_and_undo(sessions, case, accounts, check_existing=True, lock_retries=lock_retries, now=now)

    assert short == general
    accepted = name in {
        "accepted",
        "all of a protected balance",
        "debit of a debit-normal account",
        "managed account allowed",
    }
    assert (short[0][0][0] is None) == accepted, short[0]
    assert (short[1]["transfer"] is not None) == accepted
    assert await snapshot(sessions) == before


@pytest.mark.parametrize("described", [False, True], ids=["bare", "described"])
@pytest.mark.parametrize("check_existing", [False, True], ids=["short", "general"])
@pytest.mark.parametrize("name", list(CASES))
async def test_one_transfers_call_answers_and_moves_as_the_arrays_call(
    sessions: Sessions, accounts: dict[str, str], name: str, check_existing: bool, described: bool
) -> None:
    """Its NULLs travel as arrays of one NULL, where the arrays' call sends a NULL array:
    the function reads them alike, on either path."""
    case = CASES[name]
    now = clock.now()
    before = await snapshot(sessions)
    lock_retries = repository.IN_TRANSACTION_LOCK_RETRIES

    apply = functools.partial(
        _apply_and_undo,
        sessions,
        case,
        accounts,
        check_existing=check_existing,
        lock_retries=lock_retries,
        now=now,
        described=described,
    )

    assert await apply(one=True) == await apply(one=False)
    assert await snapshot(sessions) == before


@pytest.mark.parametrize("way", ["grouped", "in_transaction"])
async def test_a_posted_transfer_sets_no_pending_total(
    engine: AsyncEngine, sessions: Sessions, books: Books, way: str
) -> None:
    """So the wallets' check of pending totals (a deferred trigger on those
    columns) is not even queued for it, on either way into the ledger."""
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text(
                "CREATE FUNCTION test_refuse_pending_set() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'a pending total was set'; END $$;"
                " CREATE TRIGGER test_refuse_pending_set BEFORE UPDATE OF debits_pending, credits_pending"
                " ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION test_refuse_pending_set();"
            )
        )
    before = await snapshot(sessions)
    transfer: dict[str, Any] = {
        "debit_account_id": books.alice,
        "credit_account_id": books.bob,
        "amount_minor": 300,
        "currency": "XOF",
        "code": "test",
        "now": clock.now(),
        "actor": TEST_ACTOR,
    }

    if way == "grouped":
        record = await ledger_service.submit_transfer(engine, **transfer)
    else:
        async with db.transaction(sessions) as session:
            record = await ledger_service.create_transfer(session, **transfer)

    after = await snapshot(sessions)
    assert record.amount_minor == 300
    assert after.totals[books.alice][:4] == (before.totals[books.alice][0] + 300, *before.totals[books.alice][1:4])
    assert after.totals[books.bob][:4] == (
        before.totals[books.bob][0],
        before.totals[books.bob][1] + 300,
        *before.totals[books.bob][2:4],
    )


async def test_an_open_accounts_totals_update_meets_one_small_when_clause(sessions: Sessions) -> None:
    """PostgreSQL prepares, for every statement that updates a table, the WHEN
    clause of each row trigger that may fire: only the closed-account guard
    may fire for an update of the totals."""
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text(
                "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
                " WHERE t.tgrelid = 'ledger_accounts'::regclass AND NOT t.tgisinternal"
                " AND t.tgtype & 16 <> 0"  # fires on UPDATE
                " AND (t.tgattr = '' OR EXISTS (SELECT 1 FROM unnest(t.tgattr) a JOIN pg_attribute c"
                "   ON c.attrelid = t.tgrelid AND c.attnum = a WHERE c.attname IN"
                "   ('debits_posted', 'credits_posted', 'version', 'updated_at')))"
            )
        )
        firing = {name: definition for name, definition in rows.all()}
    assert set(firing) == {"ledger_accounts_closed_guard"}
    assert "WHEN ((old.closed_at IS NOT NULL))" in firing["ledger_accounts_closed_guard"]


class TestGuardsStillRefuse:
    """Each guard that now names its columns refuses what it refused before."""

    async def test_a_closed_account_is_not_reopened(self, sessions: Sessions, accounts: dict[str, str]) -> None:
        message = await refused_by_database(
            sessions, "UPDATE ledger_accounts SET closed_at = NULL WHERE id = :id", id=accounts["closed"]
        )
        assert f"ledger account {accounts['closed']} is closed" in message

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_accounts SET id = 'acct_renamed' WHERE id = :id",
            "UPDATE ledger_accounts SET currency = 'EUR' WHERE id = :id",
            "UPDATE ledger_accounts SET is_managed = NOT is_managed WHERE id = :id",
        ],
    )
    async def test_id_currency_and_managed_never_change(self, sessions: Sessions, books: Books, statement: str) -> None:
        # The world account: no wallet's foreign key points at it, so only the guard stands in the way.
        message = await refused_by_database(sessions, statement, id=books.world)
        assert "id, currency and is_managed never change" in message
