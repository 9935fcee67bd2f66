"""The drift the old health view hunted for cannot be written: direct SQL
that would give a wallet a negative balance, held money above its balance,
or held money other than the sum of its open holds, a hold without its
owner or an owner changed, is refused by the database itself, and the
wallet is as it was."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from sika.wallets.models import Wallet
from tests.support.factories import Owner, top_up
from tests.support.ledger import refused_by_database
from tests.wallets.conftest import place_hold, wallet_state

Sessions = async_sessionmaker[AsyncSession]

PROTECTED = "ck_ledger_accounts_debits_within_credits"
HOLDS_MISMATCH = "differ from its open holds"
OWNER_FIXED = "a hold's owner is never changed or deleted"

# Each statement, run around the application, would leave a wallet with 10000
# of which 3000 is held by one open hold in a state its money cannot explain.
# Named parameters: :account and :holds_account (the wallet's ledger
# accounts), :wallet, :hold.
DRIFT: dict[str, tuple[str, str]] = {
    "a negative balance": (
        "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = :account",
        PROTECTED,
    ),
    "its credits taken away": ("UPDATE ledger_accounts SET credits_posted = 0 WHERE id = :account", PROTECTED),
    "held money above the balance": (
        "UPDATE ledger_accounts SET debits_pending = credits_posted - debits_posted + 1 WHERE id = :account",
        PROTECTED,
    ),
    "more held money than its open holds": (
        "UPDATE ledger_accounts SET debits_pending = debits_pending + 1 WHERE id = :account",
        HOLDS_MISMATCH,
    ),
    "less held money than its open holds": (
        "UPDATE ledger_accounts SET debits_pending = debits_pending - 1 WHERE id = :account",
        HOLDS_MISMATCH,
    ),
    "no held money under an open hold": (
        "UPDATE ledger_accounts SET debits_pending = 0 WHERE id = :account",
        HOLDS_MISMATCH,
    ),
    "a hold written without its held money": (
        "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code)"
        " VALUES ('hold_phantom', 'pending', :account, :holds_account, 500, 'XOF', 'hold.placed')",
        HOLDS_MISMATCH,
    ),
    "a hold released without returning its money": (
        "INSERT INTO ledger_transfers"
        " (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code, pending_id)"
        " VALUES ('xfr_sneaky_void', 'void_pending', :account, :holds_account, 3000, 'XOF', 'hold.placed', :hold)",
        HOLDS_MISMATCH,
    ),
    "overdraft protection switched off": (
        "UPDATE ledger_accounts SET debits_must_not_exceed_credits = false, debits_posted = credits_posted + 5"
        " WHERE id = :account",
        "keeps its kind and overdraft protection",
    ),
    "the wallet pointed at other money": (
        "UPDATE wallets SET account_id = :holds_account WHERE id = :wallet",
        "wallets are never changed or deleted",
    ),
    "the wallet deleted": ("DELETE FROM wallets WHERE id = :wallet", "wallets are never changed or deleted"),
    "an open hold struck off the list": (
        "DELETE FROM wallet_open_holds WHERE transfer_id = :hold",
        "wallet_open_holds follows the ledger transfers",
    ),
    "the list rewritten": (
        "UPDATE wallet_open_holds SET transfer_id = transfer_id WHERE transfer_id = :hold",
        "wallet_open_holds follows the ledger transfers",
    ),
    "a posted transfer listed as a hold": (
        "INSERT INTO wallet_open_holds (account_id, transfer_id) SELECT :account, id FROM ledger_transfers"
        " WHERE kind = 'posted' LIMIT 1",
        "wallet_open_holds follows the ledger transfers",
    ),
    "the list emptied": ("TRUNCATE wallet_open_holds", "wallet_open_holds follows the ledger transfers"),
    "a hold with its held money but no owner": (
        "WITH hold AS (INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor,"
        " currency, code) VALUES ('hold_unowned', 'pending', :account, :holds_account, 500, 'XOF', 'hold.placed'))"
        " UPDATE ledger_accounts SET debits_pending = debits_pending + CASE WHEN id = :account THEN 500 ELSE 0 END,"
        " credits_pending = credits_pending + CASE WHEN id = :holds_account THEN 500 ELSE 0 END"
        " WHERE id IN (:account, :holds_account)",
        "has no owner",
    ),
    "a hold handed to another owner": (
        "UPDATE wallet_holds SET owner_type = 'payout', owner_id = 'po_other' WHERE id = :hold",
        OWNER_FIXED,
    ),
    "a hold's placer rewritten": (
        "UPDATE wallet_holds SET placed_by_party_id = (SELECT party_id FROM wallets WHERE id = :wallet)"
        " WHERE id = :hold",
        OWNER_FIXED,
    ),
    "a hold's owner struck off": ("DELETE FROM wallet_holds WHERE id = :hold", OWNER_FIXED),
    "the owners emptied": ("TRUNCATE wallet_holds", OWNER_FIXED),
    "an owner for a posted transfer": (
        "INSERT INTO wallet_holds (id, wallet_id, owner_type, placed_by) SELECT id, :wallet, 'api', 'key:x'"
        " FROM ledger_transfers WHERE kind = 'posted' LIMIT 1",
        "not a pending transfer out of wallet",
    ),
}


@pytest.fixture
async def holding(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str], buyer: Owner
) -> tuple[Owner, str]:
    """A wallet with 10000, of which 3000 is held by one open hold."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000)
    hold = (await place_hold(client, platform_headers, buyer.wallet_id, 3000)).json()
    return buyer, hold["id"]


@pytest.mark.parametrize(("statement", "refusal"), list(DRIFT.values()), ids=list(DRIFT))
async def test_the_database_refuses_drift(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    sessions: Sessions,
    holding: tuple[Owner, str],
    statement: str,
    refusal: str,
) -> None:
    owner, hold_id = holding
    async with sessions() as session:
        wallet = await session.get(Wallet, owner.wallet_id)
        assert wallet is not None
    message = await refused_by_database(
        sessions,
        statement,
        account=wallet.account_id,
        holds_account=wallet.holds_account_id,
        wallet=wallet.id,
        hold=hold_id,
    )
    assert refusal in message
    assert await wallet_state(client, platform_headers, owner.wallet_id) == (10000, 3000, 7000)
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [b.describe() for b in report.breaches]
