"""The raw ledger API against the accounts the wallets manage: it may read
them, but it may neither move money on them nor close them, whoever's key
asks; the accounts a platform opened itself keep working."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api.messages_fr import DETAILS_FR
from sika.wallets.models import HOLDS_ACCOUNT_KIND, WALLET_ACCOUNT_KIND
from sika.wallets.service import fee_account_id, funding_account_id
from tests.support.factories import Owner, top_up
from tests.support.ledger import refused_by_database, snapshot
from tests.wallets.conftest import place_hold, wallet_state

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Managed:
    wallet: str
    holds: str
    funding: str
    fees: str
    open_hold_transfer: str
    """The pending transfer behind an open hold of 2,000 on the buyer's wallet."""
    platform_account: str
    """An account the platform opened over the ledger API (no balance rule)."""


async def transfer(
    client: httpx.AsyncClient, headers: dict[str, str], debit: str, credit: str, **extra: Any
) -> httpx.Response:
    body = {
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount_minor": 100,
        "currency": "XOF",
        "code": "raw",
        **extra,
    }
    return await client.post("/v1/ledger/transfers", json=body, headers=headers)


async def open_account(client: httpx.AsyncClient, headers: dict[str, str], kind: str) -> dict[str, Any]:
    response = await client.post("/v1/ledger/accounts", json={"currency": "XOF", "kind": kind}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def managed(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    admin_headers: dict[str, str],
    buyer: Owner,
    merchant: Owner,
) -> Managed:
    """The buyer's wallet funded with 10,000, one hold captured with a fee
    (so the fee account exists), one hold of 2,000 left open."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000)
    captured = (await place_hold(client, platform_headers, buyer.wallet_id, 1000)).json()
    response = await client.post(
        f"/v1/holds/{captured['id']}/capture",
        json={"destination_wallet_id": merchant.wallet_id, "platform_fee_minor": 100},
        headers=platform_headers,
    )
    assert response.status_code == 200, response.text
    assert (await place_hold(client, platform_headers, buyer.wallet_id, 2000)).status_code == 201
    listed = await client.get(
        "/v1/ledger/accounts", params={"owner_type": "party", "owner_id": buyer.party["id"]}, headers=platform_headers
    )
    assert listed.status_code == 200, listed.text
    by_kind = {a["kind"]: a["id"] for a in listed.json()["data"]}
    assert set(by_kind) == {WALLET_ACCOUNT_KIND, HOLDS_ACCOUNT_KIND}
    pending = await client.get(
        f"/v1/ledger/accounts/{by_kind[HOLDS_ACCOUNT_KIND]}/transfers",
        params={"kind": "pending"},
        headers=platform_headers,
    )
    newest_hold = pending.json()["data"][0]
    assert newest_hold["amount_minor"] == 2000
    own = await open_account(client, platform_headers, "world")
    return Managed(
        wallet=by_kind[WALLET_ACCOUNT_KIND],
        holds=by_kind[HOLDS_ACCOUNT_KIND],
        funding=funding_account_id("XOF"),
        fees=fee_account_id("plt_default", "XOF"),
        open_hold_transfer=newest_hold["id"],
        platform_account=own["id"],
    )


def assert_managed_refusal(response: httpx.Response, account_id: str) -> None:
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "account_managed"
    assert account_id in problem["detail"]


SYSTEM_ACCOUNTS = frozenset({"funding"})
"""Accounts of the installation, not of a platform: only a key bound to no platform sees them."""


def caller_of(name: str, platform_headers: dict[str, str], admin_headers: dict[str, str]) -> dict[str, str]:
    return admin_headers if name in SYSTEM_ACCOUNTS else platform_headers


class TestManagedAccountsAreReadOnlyOverTheLedgerApi:
    async def test_a_system_account_is_not_there_for_a_platform_key(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], managed: Managed
    ) -> None:
        for path in ("", "/balance", "/transfers"):
            response = await client.get(f"/v1/ledger/accounts/{managed.funding}{path}", headers=platform_headers)
            assert (response.status_code, response.json()["code"]) == (404, "account_not_found"), path

    @pytest.mark.parametrize("name", ["wallet", "holds", "funding", "fees"])
    async def test_every_domain_account_is_marked_managed_and_stays_readable(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        managed: Managed,
        name: str,
    ) -> None:
        headers = caller_of(name, platform_headers, admin_headers)
        account_id = getattr(managed, name)
        account = await client.get(f"/v1/ledger/accounts/{account_id}", headers=headers)
        assert account.status_code == 200, account.text
        assert account.json()["is_managed"] is True
        balance = await client.get(f"/v1/ledger/accounts/{account_id}/balance", headers=headers)
        assert balance.status_code == 200, balance.text
        transfers = await client.get(f"/v1/ledger/accounts/{account_id}/transfers", headers=headers)
        assert transfers.status_code == 200, transfers.text
        assert transfers.json()["data"] != []

    async def test_the_platforms_own_account_and_a_hold_transfer_are_readable(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], managed: Managed
    ) -> None:
        own = await client.get(f"/v1/ledger/accounts/{managed.platform_account}", headers=platform_headers)
        assert own.json()["is_managed"] is False
        hold = await client.get(f"/v1/ledger/transfers/{managed.open_hold_transfer}", headers=platform_headers)
        assert (hold.status_code, hold.json()["kind"]) == (200, "pending")

    @pytest.mark.parametrize("name", ["wallet", "holds", "funding", "fees"])
    async def test_a_transfer_either_way_is_refused_and_moves_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        managed: Managed,
        sessions: Sessions,
        name: str,
    ) -> None:
        account_id = getattr(managed, name)
        headers = caller_of(name, platform_headers, admin_headers)
        before = await snapshot(sessions)
        out_of = await transfer(client, headers, account_id, managed.platform_account)
        assert_managed_refusal(out_of, account_id)
        into = await transfer(client, headers, managed.platform_account, account_id, pending=True)
        assert_managed_refusal(into, account_id)
        assert await snapshot(sessions) == before

    @pytest.mark.parametrize("name", ["wallet", "holds", "funding", "fees"])
    async def test_closing_is_refused_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        managed: Managed,
        sessions: Sessions,
        name: str,
    ) -> None:
        account_id = getattr(managed, name)
        headers = caller_of(name, platform_headers, admin_headers)
        before = await snapshot(sessions)
        response = await client.post(f"/v1/ledger/accounts/{account_id}/close", headers=headers)
        assert_managed_refusal(response, account_id)
        account = await client.get(f"/v1/ledger/accounts/{account_id}", headers=headers)
        assert account.json()["closed_at"] is None
        assert await snapshot(sessions) == before

    async def test_a_journal_entry_with_one_managed_leg_writes_none_of_its_legs(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], managed: Managed, sessions: Sessions
    ) -> None:
        sink = await open_account(client, platform_headers, "sink")
        before = await snapshot(sessions)
        leg = {"amount_minor": 100, "currency": "XOF", "code": "raw"}
        response = await client.post(
            "/v1/ledger/journal-entries",
            json={
                "transfers": [
                    {"debit_account_id": managed.platform_account, "credit_account_id": sink["id"], **leg},
                    {"debit_account_id": managed.fees, "credit_account_id": sink["id"], **leg},
                ]
            },
            headers=platform_headers,
        )
        assert_managed_refusal(response, managed.fees)
        assert response.json()["leg"] == 1
        assert await snapshot(sessions) == before

    @pytest.mark.parametrize("action", ["void", "post"])
    async def test_the_pending_transfer_behind_a_hold_can_be_neither_posted_nor_voided(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        buyer: Owner,
        managed: Managed,
        sessions: Sessions,
        action: str,
    ) -> None:
        before = await snapshot(sessions)
        response = await client.post(
            f"/v1/ledger/transfers/{managed.open_hold_transfer}/{action}", json={}, headers=platform_headers
        )
        assert_managed_refusal(response, managed.wallet)
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, buyer.wallet_id) == (9000, 2000, 7000)

    async def test_a_suspended_partys_wallet_cannot_be_debited_around_the_wallet_rules(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        buyer: Owner,
        managed: Managed,
        sessions: Sessions,
    ) -> None:
        suspended = await client.patch(
            f"/v1/parties/{buyer.party['id']}", json={"status": "suspended"}, headers=platform_headers
        )
        assert suspended.status_code == 200, suspended.text
        before = await snapshot(sessions)
        response = await client.post(
            "/v1/ledger/transfers",
            json={
                "debit_account_id": managed.wallet,
                "credit_account_id": managed.platform_account,
                "amount_minor": 7000,
                "currency": "XOF",
                "code": "raw",
            },
            headers={**platform_headers, "Accept-Language": "fr"},
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "account_managed"
        assert response.json()["detail"] == DETAILS_FR["account_managed"]
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, buyer.wallet_id) == (9000, 2000, 7000)

    async def test_accounts_the_platform_opened_still_take_every_write(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], managed: Managed
    ) -> None:
        sink = await open_account(client, platform_headers, "sink")
        assert (await transfer(client, platform_headers, managed.platform_account, sink["id"])).status_code == 201
        hold = await transfer(client, platform_headers, managed.platform_account, sink["id"], pending=True)
        assert hold.status_code == 201, hold.text
        posted = await client.post(
            f"/v1/ledger/transfers/{hold.json()['id']}/post", json={"amount_minor": 40}, headers=platform_headers
        )
        assert (posted.status_code, posted.json()["amount_minor"]) == (201, 40)
        other = await transfer(client, platform_headers, managed.platform_account, sink["id"], pending=True)
        voided = await client.post(f"/v1/ledger/transfers/{other.json()['id']}/void", json={}, headers=platform_headers)
        assert voided.status_code == 201, voided.text
        leg = {"amount_minor": 10, "currency": "XOF", "code": "raw"}
        entry = await client.post(
            "/v1/ledger/journal-entries",
            json={
                "transfers": [{"debit_account_id": managed.platform_account, "credit_account_id": sink["id"], **leg}]
            },
            headers=platform_headers,
        )
        assert entry.status_code == 201, entry.text
        closed = await client.post(f"/v1/ledger/accounts/{sink['id']}/close", headers=platform_headers)
        assert closed.status_code == 200, closed.text
        assert closed.json()["closed_at"] is not None
        balance = await client.get(f"/v1/ledger/accounts/{sink['id']}/balance", headers=platform_headers)
        assert balance.json()["posted_minor"] == 150

    async def test_whether_an_account_is_managed_never_changes(self, managed: Managed, sessions: Sessions) -> None:
        for account_id in (managed.wallet, managed.platform_account):
            message = await refused_by_database(
                sessions, "UPDATE ledger_accounts SET is_managed = NOT is_managed WHERE id = :id", id=account_id
            )
            assert "never change" in message
