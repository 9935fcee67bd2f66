"""The drift the old health view hunted for cannot be written: direct SQL
that would give a wallet a negative balance, held money above its balance,
or held money other than the sum of its open holds is refused by the
database itself, and the wallet is as it was."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from sika.ledger import invariants
from sika.wallets.models import Wallet
from tests.wallets.conftest import Owner, place_hold, top_up, wallet_state

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def holding(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str], buyer: Owner
) -> tuple[Owner, str]:
    """A wallet with 10000, of which 3000 is held by one open hold."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000)
    hold = (await place_hold(client, platform_headers, buyer.wallet_id, 3000)).json()
    return buyer, hold["id"]


async def accounts_of(sessions: Sessions, wallet_id: str) -> tuple[str, str]:
    async with sessions() as session:
        wallet = await session.get(Wallet, wallet_id)
        assert wallet is not None
        return wallet.account_id, wallet.holds_account_id


async def assert_refused(sessions: Sessions, statement: str, **params: object) -> str:
    """Run ``statement`` in a transaction of its own; the database must refuse
    it, at once or at commit. Returns the database's message."""
    with pytest.raises(sa.exc.DBAPIError) as refused:
        async with db.transaction(sessions) as session:
            await session.execute(sa.text(statement), params)
    return str(refused.value.orig)


async def assert_untouched(
    client: httpx.AsyncClient, headers: dict[str, str], sessions: Sessions, wallet_id: str
) -> None:
    assert await wallet_state(client, headers, wallet_id) == (10000, 3000, 7000)
    async with sessions() as session, session.begin():
        report = await invariants.check_all(session)
    assert report.ok, [b.describe() for b in report.breaches]


class TestTheDatabaseRefusesDrift:
    async def test_a_negative_balance(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, _ = holding
        account, _ = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(
            sessions, "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = :id", id=account
        )
        assert "ck_ledger_accounts_debits_within_credits" in message
        assert await assert_refused(
            sessions, "UPDATE ledger_accounts SET credits_posted = 0 WHERE id = :id", id=account
        )
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_held_money_above_the_balance(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, _ = holding
        account, _ = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(
            sessions,
            "UPDATE ledger_accounts SET debits_pending = credits_posted - debits_posted + 1 WHERE id = :id",
            id=account,
        )
        assert "ck_ledger_accounts_debits_within_credits" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_accounts SET debits_pending = debits_pending + 1 WHERE id = :id",
            "UPDATE ledger_accounts SET debits_pending = debits_pending - 1 WHERE id = :id",
            "UPDATE ledger_accounts SET debits_pending = 0 WHERE id = :id",
        ],
    )
    async def test_held_money_other_than_the_open_holds(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
        statement: str,
    ) -> None:
        owner, _ = holding
        account, _ = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(sessions, statement, id=account)
        assert "differ from its open holds" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_a_hold_written_without_its_held_money(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, _ = holding
        account, holds_account = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(
            sessions,
            "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code)"
            " VALUES ('hold_phantom', 'pending', :debit, :credit, 500, 'XOF', 'hold.placed')",
            debit=account,
            credit=holds_account,
        )
        assert "differ from its open holds" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_a_hold_released_without_returning_its_money(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, hold_id = holding
        account, holds_account = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(
            sessions,
            "INSERT INTO ledger_transfers"
            " (id, kind, debit_account_id, credit_account_id, amount_minor, currency, code, pending_id)"
            " VALUES ('xfr_sneaky_void', 'void_pending', :debit, :credit, 3000, 'XOF', 'hold.placed', :hold)",
            debit=account,
            credit=holds_account,
            hold=hold_id,
        )
        assert "differ from its open holds" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_switching_off_overdraft_protection(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, _ = holding
        account, _ = await accounts_of(sessions, owner.wallet_id)
        message = await assert_refused(
            sessions,
            "UPDATE ledger_accounts SET debits_must_not_exceed_credits = false, debits_posted = credits_posted + 5"
            " WHERE id = :id",
            id=account,
        )
        assert "keeps its kind and overdraft protection" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_repointing_or_deleting_a_wallet(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, _ = holding
        _, holds_account = await accounts_of(sessions, owner.wallet_id)
        for statement in (
            "UPDATE wallets SET account_id = :other WHERE id = :id",
            "DELETE FROM wallets WHERE id = :id",
        ):
            message = await assert_refused(sessions, statement, id=owner.wallet_id, other=holds_account)
            assert "wallets are never changed or deleted" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)

    async def test_writing_the_open_holds_list_by_hand(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        holding: tuple[Owner, str],
    ) -> None:
        owner, hold_id = holding
        account, _ = await accounts_of(sessions, owner.wallet_id)
        for statement in (
            "DELETE FROM wallet_open_holds WHERE transfer_id = :hold",
            "UPDATE wallet_open_holds SET transfer_id = transfer_id WHERE transfer_id = :hold",
            "INSERT INTO wallet_open_holds (account_id, transfer_id) SELECT :account, id FROM ledger_transfers"
            " WHERE kind = 'posted' LIMIT 1",
            "TRUNCATE wallet_open_holds",
        ):
            message = await assert_refused(sessions, statement, hold=hold_id, account=account)
            assert "wallet_open_holds follows the ledger transfers" in message
        await assert_untouched(client, platform_headers, sessions, owner.wallet_id)
