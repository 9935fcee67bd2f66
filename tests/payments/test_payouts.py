"""Payouts through the API against the sandbox: the hold is placed first,
captured on success, released on failure, given back on reversal; the
wallet is exact after each, and refusals leave nothing behind."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from sika.ledger import service as ledger_service
from sika.payments import service as payments_service
from tests.support.parties import party_headers
from tests.support.payments import (
    Payer,
    alerts_for,
    assert_ledger_clean,
    count,
    deliver,
    payout_body,
    run_jobs,
    top_up,
    wallet_state,
)
from tests.support.sandbox import LiveSandbox

FUNDS = 10_000
AMOUNT = 4_000


async def clearing_posted(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Paystack's XOF clearing account, read as the ledger reads an account with
    no flag (credits less debits): payouts paid out less collections taken in."""
    async with sessions() as session:
        account_id = payments_service.clearing_account_id("paystack", "XOF")
        try:
            return (await ledger_service.get_balance(session, account_id=account_id)).posted_minor
        except ledger_service.AccountNotFound:
            return 0


async def pay_out(client: httpx.AsyncClient, headers: dict[str, str], who: Payer, **kwargs: str) -> httpx.Response:
    return await client.post("/v1/payouts", json=payout_body(who, amount_minor=AMOUNT, **kwargs), headers=headers)


class TestPayouts:
    async def test_a_payout_holds_the_amount_then_captures_it_when_the_provider_confirms(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        response = await pay_out(client, platform_headers, kofi)
        assert response.status_code == 201, response.text
        payout = response.json()
        assert payout["status"] == "processing"
        assert payout["provider"] == "paystack"
        assert payout["provider_reference"].startswith("TRF_")
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, AMOUNT)

        (received,) = await sandbox.receiver.wait_for(1)
        assert (await deliver(client, received)).status_code == 200
        await run_jobs(database_url, settings)

        shown = (await client.get(f"/v1/payouts/{payout['id']}", headers=platform_headers)).json()
        assert shown["status"] == "succeeded"
        assert shown["completed_at"] is not None
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS - AMOUNT, 0)
        assert await clearing_posted(sessions) == AMOUNT
        hold = (await client.get(f"/v1/holds/{payout['hold_id']}", headers=platform_headers)).json()
        assert (hold["status"], hold["captured_minor"]) == ("captured", AMOUNT)
        await assert_ledger_clean(sessions)

    async def test_a_payout_the_provider_fails_releases_the_hold(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        payout = (await pay_out(client, platform_headers, kofi, phone="+2250700000002")).json()
        assert payout["status"] == "processing"
        (received,) = await sandbox.receiver.wait_for(1)
        await deliver(client, received)
        await run_jobs(database_url, settings)

        shown = (await client.get(f"/v1/payouts/{payout['id']}", headers=platform_headers)).json()
        assert shown["status"] == "failed"
        assert shown["failure"]["code"] == "failed"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
        assert await clearing_posted(sessions) == 0
        await assert_ledger_clean(sessions)

    async def test_a_reversal_heard_before_the_success_releases_the_hold_and_the_stale_success_changes_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        payout = (await pay_out(client, platform_headers, kofi, phone="+2250700000063")).json()
        reversed_, stale_success = await sandbox.receiver.wait_for(2)
        assert b"transfer.reversed" in reversed_.body
        assert b"transfer.success" in stale_success.body
        for received in (reversed_, stale_success):
            await deliver(client, received)
            await run_jobs(database_url, settings)

        shown = (await client.get(f"/v1/payouts/{payout['id']}", headers=platform_headers)).json()
        assert shown["status"] == "reversed"
        assert shown["reversal_transfer_id"] is None, "nothing was captured, so nothing is given back"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
        assert await count(sessions, "webhooks_inbound_events", "outcome = 'unchanged'") == 1
        await assert_ledger_clean(sessions)

    async def test_a_reversal_after_the_capture_gives_the_money_back(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        payout = (await pay_out(client, platform_headers, kofi, phone="+2250700000063")).json()
        reversed_, success = await sandbox.receiver.wait_for(2)
        await deliver(client, success)
        await run_jobs(database_url, settings)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS - AMOUNT, 0)

        await deliver(client, reversed_)
        await run_jobs(database_url, settings)
        shown = (await client.get(f"/v1/payouts/{payout['id']}", headers=platform_headers)).json()
        assert shown["status"] == "reversed"
        assert shown["reversal_transfer_id"] == f"{payout['id']}.reversal"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
        assert await clearing_posted(sessions) == 0
        await assert_ledger_clean(sessions)

    async def test_a_payout_the_provider_refuses_at_once_fails_and_releases_the_hold(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        payout = (await pay_out(client, platform_headers, kofi, phone="+2250700000051")).json()
        assert payout["status"] == "failed"
        assert payout["failure"]["code"] == "insufficient_funds"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
        await assert_ledger_clean(sessions)


    async def test_a_provider_that_wants_an_otp_for_transfers_raises_an_alert_and_keeps_the_hold(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        async with sandbox.admin() as admin:
            await admin.patch("/config", json={"paystack_transfer_otp": True})
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        payout = (await pay_out(client, platform_headers, kofi)).json()
        assert payout["status"] == "processing"
        assert await alerts_for(sessions, payout["id"]) == [("payout.requires_otp", "warning")]
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, AMOUNT)
        await assert_ledger_clean(sessions)


class TestPayoutRefusals:
    async def test_a_payout_above_the_available_money_is_refused_and_holds_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, AMOUNT - 1)
        response = await pay_out(client, platform_headers, kofi)
        assert response.status_code == 409
        assert response.json()["code"] == "insufficient_funds"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT - 1, 0)
        assert await count(sessions, "payments_payouts") == 0
        async with sandbox.admin() as admin:
            assert (await admin.get("/payouts")).json() == []

    async def test_a_suspended_partys_wallet_pays_nothing_out(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        suspended = await client.patch(
            f"/v1/parties/{kofi.party_id}", json={"status": "suspended"}, headers=platform_headers
        )
        assert suspended.status_code == 200, suspended.text
        response = await pay_out(client, platform_headers, kofi)
        assert response.status_code == 409
        assert response.json()["code"] == "party_suspended"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
        assert await count(sessions, "payments_payouts") == 0

    async def test_the_same_key_pays_out_once(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        headers = {**platform_headers, "Idempotency-Key": "withdraw-1"}
        first = await client.post("/v1/payouts", json=payout_body(kofi, amount_minor=AMOUNT), headers=headers)
        second = await client.post("/v1/payouts", json=payout_body(kofi, amount_minor=AMOUNT), headers=headers)
        assert second.json() == first.json()
        assert await count(sessions, "payments_payouts") == 1
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, AMOUNT)
        async with sandbox.admin() as admin:
            assert len((await admin.get("/payouts")).json()) == 1

    async def test_a_party_token_cannot_pay_out(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, FUNDS)
        headers = await party_headers(client, platform_headers, kofi.party_id)
        response = await pay_out(client, headers, kofi)
        assert response.status_code == 403
        assert await count(sessions, "payments_payouts") == 0
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (FUNDS, 0)
