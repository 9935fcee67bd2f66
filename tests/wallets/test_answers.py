"""Answers that tell the story: a capture shows where the money went (the destination
wallet, the platform's fee and its account, what returned to the wallet), history
entries name the hold behind them, and a wallet shows its ledger accounts. Each
figure is checked against the ledger, not only against the answer."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.wallets import repository
from sika.wallets.service import fee_account_id
from tests.support.factories import Owner, top_up
from tests.support.ledger import snapshot
from tests.wallets.conftest import account_posted, place_hold

Sessions = async_sessionmaker[AsyncSession]

STORY = ("captured_minor", "returned_minor", "destination_wallet_id", "destination_minor", "platform_fee_minor")


def story(hold: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(hold[field] for field in STORY)


async def capture(client: httpx.AsyncClient, headers: dict[str, str], hold_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/holds/{hold_id}/capture", json=body, headers=headers)


class TestCaptureAnswer:
    async def test_a_partial_capture_shows_the_destination_the_fee_and_its_account_and_what_returned(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        funded: Owner,
        merchant: Owner,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 3000)).json()
        response = await capture(
            client,
            platform_headers,
            hold["id"],
            amount_minor=2000,
            destination_wallet_id=merchant.wallet_id,
            platform_fee_minor=150,
        )
        assert response.status_code == 200, response.text
        captured = response.json()
        assert story(captured) == (2000, 1000, merchant.wallet_id, 1850, 150)
        fees = fee_account_id(funded.party["platform_id"], "XOF")
        assert captured["fee_account_id"] == fees
        # The answer is what the ledger holds: the merchant got 1,850, the fee account 150,
        # and 1,000 is available again to the buyer.
        assert captured["wallet"]["available_minor"] == 10000 - 2000
        merchant_wallet = (await client.get(f"/v1/wallets/{merchant.wallet_id}", headers=platform_headers)).json()
        assert merchant_wallet["balance_minor"] == 1850
        assert await account_posted(sessions, fees) == 150
        # Read again, the hold tells the same story.
        again = (await client.get(f"/v1/holds/{hold['id']}", headers=platform_headers)).json()
        assert (story(again), again["fee_account_id"]) == (story(captured), fees)

    async def test_a_capture_to_no_wallet_shows_all_of_it_going_to_the_fee_account(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions, funded: Owner
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 1200)).json()
        captured = (await capture(client, platform_headers, hold["id"])).json()
        assert story(captured) == (1200, 0, None, 0, 1200)
        assert await account_posted(sessions, captured["fee_account_id"]) == 1200

    async def test_a_capture_under_the_platform_policy_shows_the_fee_the_policy_took(
        self, client: httpx.AsyncClient, funded: Owner, merchant: Owner
    ) -> None:
        """A party token sets no fee: the answer says what the policy took (none by default)."""
        hold = (await place_hold(client, funded.headers, funded.wallet_id, 800)).json()
        captured = (await capture(client, funded.headers, hold["id"], destination_wallet_id=merchant.wallet_id)).json()
        assert story(captured) == (800, 0, merchant.wallet_id, 800, 0)
        assert captured["fee_account_id"] is None

    async def test_a_released_hold_returned_everything_and_an_open_one_nothing_yet(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 700)).json()
        assert story(hold) == (0, 0, None, 0, 0)
        assert hold["fee_account_id"] is None
        released = (await client.post(f"/v1/holds/{hold['id']}/release", headers=platform_headers)).json()
        assert story(released) == (0, 700, None, 0, 0)
        assert released["fee_account_id"] is None

    async def test_a_refused_capture_moves_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        funded: Owner,
        merchant: Owner,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 500)).json()
        before = await snapshot(sessions)
        response = await capture(
            client, platform_headers, hold["id"], destination_wallet_id=merchant.wallet_id, platform_fee_minor=600
        )
        assert response.status_code == 422, response.text
        assert await snapshot(sessions) == before
        shown = (await client.get(f"/v1/holds/{hold['id']}", headers=platform_headers)).json()
        assert (shown["status"], *story(shown)) == ("open", 0, 0, None, 0, 0)


class TestHistoryNamesTheHold:
    async def test_the_payers_hold_entries_and_the_payees_credit_name_the_hold(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        buyer: Owner,
        merchant: Owner,
    ) -> None:
        await top_up(client, admin_headers, buyer.wallet_id, 5000)
        hold = (await place_hold(client, platform_headers, buyer.wallet_id, 3000)).json()
        await capture(
            client,
            platform_headers,
            hold["id"],
            amount_minor=2000,
            destination_wallet_id=merchant.wallet_id,
            platform_fee_minor=100,
        )

        def ids(entry: dict[str, Any]) -> tuple[Any, ...]:
            return entry["type"], entry["hold_id"], entry["collection_id"], entry["payout_id"]

        paid = (await client.get(f"/v1/wallets/{buyer.wallet_id}/history", headers=platform_headers)).json()
        assert [ids(entry) for entry in paid["data"]] == [
            ("hold_captured", hold["id"], None, None),
            ("hold_placed", hold["id"], None, None),
            ("credit", None, None, None),
        ]
        received = (await client.get(f"/v1/wallets/{merchant.wallet_id}/history", headers=platform_headers)).json()
        assert [(ids(entry), entry["amount_minor"]) for entry in received["data"]] == [
            (("credit", hold["id"], None, None), 1900)
        ]


class TestWalletShowsItsAccounts:
    async def test_the_wallet_answer_names_the_ledger_accounts_that_hold_its_money(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        sessions: Sessions,
        funded: Owner,
    ) -> None:
        shown = (await client.get(f"/v1/wallets/{funded.wallet_id}", headers=platform_headers)).json()
        async with sessions() as session:
            wallet = await repository.get(session, funded.wallet_id)
        assert wallet is not None
        assert (shown["account_id"], shown["holds_account_id"]) == (wallet.account_id, wallet.holds_account_id)
        account = (await client.get(f"/v1/ledger/accounts/{shown['account_id']}", headers=admin_headers)).json()
        assert (account["owner_id"], account["currency"]) == (funded.party_id, "XOF")
        listed = (await client.get(f"/v1/parties/{funded.party_id}/wallets", headers=platform_headers)).json()
        rows = listed["data"] if isinstance(listed, dict) else listed
        assert [(w["account_id"], w["holds_account_id"]) for w in rows] == [
            (wallet.account_id, wallet.holds_account_id)
        ]
