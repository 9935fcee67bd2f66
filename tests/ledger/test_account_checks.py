"""The format rules of a ledger account (currency, kind, owner) are checked by
the trigger ``ledger_accounts_check_values`` when those columns are written,
not by CHECK constraints PostgreSQL would prepare for every update, each
transfer's included (docs/ledger.md, "Performance"). Each refuses what its
constraint refused, as a CheckViolation naming that constraint, and a
transfer's update does not run it."""

from __future__ import annotations

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
    "INSERT INTO ledger_accounts (id, currency, kind, owner_type, owner_id)"
    " VALUES ('acct_checked', :currency, :kind, :owner_type, :owner_id)"
)
GOOD = {"currency": "XOF", "kind": "wallet.available", "owner_type": "party", "owner_id": "pty_checked"}
CHECK = "ledger_accounts_check_values()"
"""The trigger's function, whose calls in a transaction are counted."""


async def refused_as(sessions: Sessions, constraint: str, statement: str, **params: object) -> None:
    """``statement`` fails as a CHECK constraint named ``constraint`` would, and writes nothing."""
    before = await snapshot(sessions)
    with pytest.raises(sa.exc.IntegrityError) as refused:
        async with db.transaction(sessions) as session:
            await session.execute(sa.text(statement), params)
    assert isinstance(refused.value.orig, psycopg.errors.CheckViolation)
    assert refused.value.orig.diag.constraint_name == constraint
    assert refused.value.orig.diag.table_name == "ledger_accounts"
    assert await snapshot(sessions) == before
    async with db.transaction(sessions) as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM ledger_accounts WHERE id = 'acct_checked'")) == 0


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("ck_ledger_accounts_currency_format", {"currency": "xof"}),
        ("ck_ledger_accounts_currency_format", {"currency": "X1F"}),
        ("ck_ledger_accounts_kind_format", {"kind": "Wallet"}),
        ("ck_ledger_accounts_kind_format", {"kind": "wallet available"}),
        ("ck_ledger_accounts_kind_format", {"kind": "1wallet"}),
        # 51 characters are already refused by the column's type (varchar(50)): the rule adds the empty one.
        ("ck_ledger_accounts_owner_type_length", {"owner_type": ""}),
        ("ck_ledger_accounts_owner_whole", {"owner_id": None}),
        ("ck_ledger_accounts_owner_whole", {"owner_type": None}),
    ],
    ids=[
        "lower-case currency",
        "digit in currency",
        "capital in kind",
        "space in kind",
        "kind starting with a digit",
        "empty owner_type",
        "owner_type without owner_id",
        "owner_id without owner_type",
    ],
)
async def test_an_account_insert_breaking_a_rule_is_refused(
    sessions: Sessions, books: Books, constraint: str, values: dict[str, str | None]
) -> None:
    await refused_as(sessions, constraint, INSERT, **(GOOD | values))


@pytest.mark.parametrize(
    ("constraint", "statement"),
    [
        ("ck_ledger_accounts_kind_format", "UPDATE ledger_accounts SET kind = 'Not A Kind' WHERE id = :id"),
        (
            "ck_ledger_accounts_owner_type_length",
            "UPDATE ledger_accounts SET owner_type = '', owner_id = 'pty_someone' WHERE id = :id",
        ),
        ("ck_ledger_accounts_owner_whole", "UPDATE ledger_accounts SET owner_type = 'party' WHERE id = :id"),
    ],
    ids=["bad kind", "empty owner_type", "owner_type without owner_id"],
)
async def test_an_update_breaking_a_rule_is_refused(
    sessions: Sessions, books: Books, constraint: str, statement: str
) -> None:
    # The world account: no wallet points at it, and it has no owner.
    await refused_as(sessions, constraint, statement, id=books.world)


async def test_a_transfer_moves_without_running_the_check(sessions: Sessions, books: Books) -> None:
    """A transfer sets only totals, version and updated_at: the check is not
    run for it, and runs for a new account (well formed, without owner: let through)."""
    async with db.transaction(sessions) as session:
        await counting_function_calls(session)
        await alice_pays_bob(session, books, 400)
        after_transfer = await function_calls(session, CHECK)
        await ledger_service.create_account(
            session, currency="XOF", kind="sink", platform_id=None, now=clock.now(), actor=TEST_ACTOR
        )
        after_account = await function_calls(session, CHECK)
    assert (after_transfer, after_account) == (0, 1)
    assert (await balance(sessions, books.alice)).posted_minor == 600
    assert (await balance(sessions, books.bob)).posted_minor == 400


async def test_no_check_constraint_is_about_a_column_a_transfer_does_not_set(sessions: Sessions) -> None:
    """PostgreSQL prepares every CHECK of the table for each update: those
    left are the balance rules, about the totals and the flags."""
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_accounts'::regclass AND contype = 'c'")
        )
        names = {name for (name,) in rows}
    assert names == {
        "ck_ledger_accounts_one_flag",
        "ck_ledger_accounts_debits_within_credits",
        "ck_ledger_accounts_credits_within_debits",
        "ck_ledger_accounts_totals_not_negative",
    }
