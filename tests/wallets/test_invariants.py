"""The wallets' invariants hold on wallets in use, and find each breach the
database guards would refuse once it is written with those guards off, as
data written before a guard existed (or restored around it) could be."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import db, invariants
from sika.ledger import tasks as ledger_tasks
from sika.wallets.models import Wallet
from tests.support.factories import Owner, top_up
from tests.wallets.conftest import place_hold

Sessions = async_sessionmaker[AsyncSession]
WALLET_CHECKS = ("wallet_accounts", "wallet_open_holds", "wallet_hold_owners")


@pytest.fixture
async def holding(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    platform_headers: dict[str, str],
    buyer: Owner,
    merchant: Owner,
    sessions: Sessions,
) -> tuple[Wallet, str]:
    """The buyer's wallet with 10000, one open hold of 3000, one captured and one released."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000)
    captured = (await place_hold(client, platform_headers, buyer.wallet_id, 1000)).json()
    response = await client.post(
        f"/v1/holds/{captured['id']}/capture",
        json={"amount_minor": 600, "destination_wallet_id": merchant.wallet_id},
        headers=platform_headers,
    )
    assert response.status_code == 200, response.text
    released = (await place_hold(client, platform_headers, buyer.wallet_id, 500)).json()
    response = await client.post(f"/v1/holds/{released['id']}/release", headers=platform_headers)
    assert response.status_code == 200, response.text
    hold = (await place_hold(client, platform_headers, buyer.wallet_id, 3000)).json()
    async with sessions() as session:
        wallet = await session.get(Wallet, buyer.wallet_id)
    assert wallet is not None
    return wallet, hold["id"]


async def wallet_results(sessions: Sessions) -> dict[str, invariants.CheckResult]:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    return {result.name: result for result in report.results if result.domain == "wallets"}


async def around_the_guards(sessions: Sessions, table: str, *statements: str, **params: object) -> None:
    """Run ``statements`` with ``table``'s own triggers off, in one transaction."""
    async with db.transaction(sessions) as session:
        await session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for statement in statements:
            await session.execute(sa.text(statement), params)
        await session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


async def test_wallets_in_use_pass_every_check(sessions: Sessions, holding: tuple[Wallet, str]) -> None:
    results = await wallet_results(sessions)
    assert tuple(results) == WALLET_CHECKS
    assert [(name, result.breach_count) for name, result in results.items()] == [(name, 0) for name in WALLET_CHECKS]


async def test_a_wallet_account_handed_to_another_owner_is_found(
    sessions: Sessions, holding: tuple[Wallet, str], merchant: Owner
) -> None:
    wallet, _ = holding
    # Nothing in the database keeps an account's owner once the wallet is written.
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE ledger_accounts SET owner_id = :other WHERE id = :account"),
            {"other": merchant.party["id"], "account": wallet.holds_account_id},
        )
    results = await wallet_results(sessions)
    assert [(name, result.breach_count) for name, result in results.items() if result.breach_count] == [
        ("wallet_accounts", 1)
    ]
    assert [breach.entity_id for breach in results["wallet_accounts"].breaches] == [wallet.id]


async def test_a_wallet_account_moved_to_another_platform_is_found(
    sessions: Sessions, holding: tuple[Wallet, str]
) -> None:
    wallet, _ = holding
    # Nor its platform: an account of another platform would show this wallet's money there.
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("INSERT INTO platforms (id, name, default_currency) VALUES ('plt_x', 'X', 'XOF')")
        )
        await session.execute(
            sa.text("UPDATE ledger_accounts SET platform_id = 'plt_x' WHERE id = :account"),
            {"account": wallet.account_id},
        )
    results = await wallet_results(sessions)
    assert [(name, result.breach_count) for name, result in results.items() if result.breach_count] == [
        ("wallet_accounts", 1)
    ]
    assert [breach.entity_id for breach in results["wallet_accounts"].breaches] == [wallet.id]


async def test_an_open_holds_list_out_of_step_is_found(sessions: Sessions, holding: tuple[Wallet, str]) -> None:
    wallet, hold_id = holding
    await around_the_guards(
        sessions,
        "wallet_open_holds",
        "DELETE FROM wallet_open_holds WHERE transfer_id = :hold AND account_id = :account",
        "INSERT INTO wallet_open_holds (account_id, transfer_id)"
        " SELECT credit_account_id, id FROM ledger_transfers WHERE kind = 'posted' AND credit_account_id = :account",
        hold=hold_id,
        account=wallet.account_id,
    )
    results = await wallet_results(sessions)
    found = results["wallet_open_holds"]
    assert found.breach_count == 2
    messages = sorted(breach.message for breach in found.breaches)
    assert messages[0] == f"its open pending transfer {hold_id} is missing from the open-holds list"
    assert messages[1].startswith("the open-holds list names ")
    assert {breach.entity_id for breach in found.breaches} == {wallet.account_id}
    assert [name for name, result in results.items() if result.breach_count] == ["wallet_open_holds"]


async def test_a_hold_without_its_owner_and_a_stray_owner_are_found_and_alerted_once(
    sessions: Sessions, holding: tuple[Wallet, str]
) -> None:
    wallet, hold_id = holding
    await around_the_guards(
        sessions,
        "wallet_holds",
        "DELETE FROM wallet_holds WHERE id = :hold",
        "INSERT INTO wallet_holds (id, wallet_id, platform_id, owner_type, placed_by)"
        " SELECT id, :wallet, 'plt_default', 'api', 'key:forged' FROM ledger_transfers"
        " WHERE kind = 'posted' AND credit_account_id = :account",
        hold=hold_id,
        wallet=wallet.id,
        account=wallet.account_id,
    )
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    found = {result.name: result for result in report.results}["wallet_hold_owners"]
    assert found.breach_count == 2
    by_id = {breach.entity_id: breach.message for breach in found.breaches}
    assert by_id.pop(hold_id) == f"is a pending transfer out of wallet {wallet.id} without its owner row"
    assert list(by_id.values()) == [f"has an owner row for wallet {wallet.id} but is not a pending transfer out of it"]
    assert [result.name for result in report.results if result.breach_count] == ["wallet_hold_owners"]
    for _ in range(2):
        async with db.transaction(sessions) as session:
            assert await ledger_tasks.record_breaches(session, report) == 2
    async with db.transaction(sessions) as session:
        alerts = await alerts_service.list_alerts(session, kind=ledger_tasks.alert_kind("wallets"))
    assert Counter(alert.entity_id for alert in alerts) == Counter([hold_id, *by_id])
    assert {alert.data["check"] for alert in alerts} == {"wallet_hold_owners"}
