"""The shape rules of a ledger transfer (amount, accounts, kind, pending id,
timeout, lengths, metadata size) are checked by the trigger
``ledger_transfers_check_values`` on every insert, not by CHECK constraints
PostgreSQL would parse and plan again for each one (docs/ledger.md,
"Performance"). Each refuses what its constraint refused, as a CheckViolation
naming that constraint, whatever path writes the row, and every transfer the
ledger writes goes through it."""

from __future__ import annotations

import json

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books, alice_pays_bob
from tests.support.ledger import balance, counting_function_calls, function_calls, snapshot

Sessions = async_sessionmaker[AsyncSession]

INSERT = (
    "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code,"
    " pending_id, timeout_seconds, expires_at, metadata)"
    " VALUES (:id, :kind, :debit, :credit, :amount, 'XOF', :code, :pending_id, :timeout,"
    " CASE WHEN :expires THEN now() + interval '1 hour' END, CAST(:metadata AS jsonb))"
)
GOOD = {
    "id": "xfr_checked",
    "kind": "posted",
    "amount": 100,
    "code": "test",
    "pending_id": None,
    "timeout": None,
    "expires": False,
    "metadata": "{}",
}
CHECK = "ledger_transfers_check_values()"
"""The trigger's function, whose calls in a transaction are counted."""


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("ck_ledger_transfers_amount_positive", {"amount": 0}),
        ("ck_ledger_transfers_amount_positive", {"amount": -100}),
        ("ck_ledger_transfers_code_length", {"code": ""}),
        ("ck_ledger_transfers_id_length", {"id": ""}),
        ("ck_ledger_transfers_kind", {"kind": "refund"}),
        ("ck_ledger_transfers_metadata_size", {"metadata": json.dumps({"note": "x" * 4096})}),
        ("ck_ledger_transfers_pending_id_iff_resolution", {"kind": "void_pending"}),
        ("ck_ledger_transfers_timeout_only_pending", {"timeout": 60, "expires": True}),
        ("ck_ledger_transfers_timeout_only_pending", {"kind": "pending", "timeout": 60}),
        ("ck_ledger_transfers_timeout_positive", {"kind": "pending", "timeout": 0, "expires": True}),
        ("ck_ledger_transfers_two_accounts", {"same_account": True}),
    ],
    ids=[
        "zero amount",
        "negative amount",
        "empty code",
        "empty id",
        "unknown kind",
        "metadata over 4 KiB",
        "resolution without pending id",
        "timeout on a posted transfer",
        "timeout without expiry",
        "zero timeout",
        "same account twice",
    ],
)
async def test_a_transfer_breaking_a_rule_is_refused(
    sessions: Sessions, books: Books, constraint: str, values: dict[str, object]
) -> None:
    """Written around the ledger's function, straight into the table: the
    database refuses it as the constraint did, and nothing moves."""
    params = GOOD | {key: value for key, value in values.items() if key != "same_account"}
    params |= {"debit": books.alice, "credit": books.alice if values.get("same_account") else books.bob}
    before = await snapshot(sessions)
    with pytest.raises(sa.exc.IntegrityError) as refused:
        async with db.transaction(sessions) as session:
            await session.execute(sa.text(INSERT), params)
    assert isinstance(refused.value.orig, psycopg.errors.CheckViolation)
    assert refused.value.orig.diag.constraint_name == constraint
    assert refused.value.orig.diag.table_name == "ledger_transfers"
    assert await snapshot(sessions) == before
    async with db.transaction(sessions) as session:
        audited = await session.scalar(sa.text("SELECT count(*) FROM audit_events WHERE entity_id = :id"), params)
    assert audited == 0


async def test_every_transfer_the_ledger_writes_is_checked(sessions: Sessions, books: Books) -> None:
    """The short path (one posted transfer) and the general one (a journal
    entry of two) both insert through the trigger: once per transfer."""
    async with db.transaction(sessions) as session:
        await counting_function_calls(session)
        await alice_pays_bob(session, books, 400)
        after_one = await function_calls(session, CHECK)
        legs = [
            ledger_service.Leg(
                debit_account_id=books.bob, credit_account_id=books.alice, amount_minor=100, currency="XOF", code="t"
            ),
            ledger_service.Leg(
                debit_account_id=books.bob, credit_account_id=books.alice, amount_minor=50, currency="XOF", code="t"
            ),
        ]
        await ledger_service.create_journal_entry(session, legs=legs, now=clock.now(), actor=TEST_ACTOR)
        after_journal = await function_calls(session, CHECK)
    assert (after_one, after_journal) == (1, 3)
    assert (await balance(sessions, books.alice)).posted_minor == 750
    assert (await balance(sessions, books.bob)).posted_minor == 250


async def test_a_transfer_insert_prepares_no_check_constraint(sessions: Sessions) -> None:
    """PostgreSQL parses and plans every CHECK of the table for each insert:
    the table has none left, the trigger holds the rules."""
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_transfers'::regclass AND contype = 'c'")
        )
        names = {name for (name,) in rows}
    assert names == set()
