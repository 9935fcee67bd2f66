"""Payouts through the API against the sandbox: the hold is placed first,
captured on success, released on failure, given back on reversal; the
wallet is exact after each, and refusals leave nothing behind."""

from __future__ import annotations

from typing import Any

import pytest

from sika.ledger import service as ledger_service
from sika.payments import service as payments_service
from tests.support.factories import PartyWallet, party_headers
from tests.support.ledger import snapshot
from tests.support.payments import World, alerts_for, assert_ledger_clean, count, deliver, payer, payout_body
from tests.support.tasks import nothing_left_running  # noqa: F401 (closes the grouped path's connections)

FUNDS = 10_000
AMOUNT = 4_000


async def clearing_posted(world: World) -> int:
    """Paystack's XOF clearing account, read as the ledger reads an account with
    no flag (credits less debits): payouts paid out less collections taken in."""
    async with world.sessions() as session:
        account_id = payments_service.clearing_account_id("paystack", "XOF")
        try:
            return (await ledger_service.get_balance(session, account_id=account_id)).posted_minor
        except ledger_service.AccountNotFound:
            return 0


async def funded_payout(world: World, who: PartyWallet, *, phone: str | None = None) -> dict[str, Any]:
    """Top ``who`` up with FUNDS and pay AMOUNT out to ``phone``; the payout as answered."""
    await world.top_up(who, FUNDS)
    body = payout_body(who, amount_minor=AMOUNT, **({"phone": phone} if phone else {}))
    response = await world.pay_out(body)
    assert response.status_code == 201, response.text
    payout: dict[str, Any] = response.json()
    return payout


class TestPayouts:
    async def test_a_payout_holds_the_amount_then_captures_it_when_the_provider_confirms(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout = await funded_payout(world, kofi)
        assert payout["status"] == "processing"
        assert payout["provider"] == "paystack"
        assert payout["provider_reference"].startswith("TRF_")
        assert await world.wallet(kofi) == (FUNDS, AMOUNT)

        await world.deliver(1)
        await world.run_jobs()
        shown = await world.shown("payouts", payout["id"])
        assert shown["status"] == "succeeded"
        assert shown["completed_at"] is not None
        assert await world.wallet(kofi) == (FUNDS - AMOUNT, 0)
        assert await clearing_posted(world) == AMOUNT
        hold = (await world.client.get(f"/v1/holds/{payout['hold_id']}", headers=world.platform)).json()
        assert (hold["status"], hold["captured_minor"]) == ("captured", AMOUNT)
        await assert_ledger_clean(world.sessions)

    # The transfers route writes on the grouped path, whose connections that fixture closes.
    @pytest.mark.usefixtures("nothing_left_running")
    async def test_the_raw_ledger_api_can_read_the_clearing_account_but_not_move_or_close_it(
        self, world: World, kofi: PartyWallet
    ) -> None:
        await funded_payout(world, kofi)
        await world.deliver(1)
        await world.run_jobs()
        clearing = payments_service.clearing_account_id("paystack", "XOF")
        # A provider's clearing account is the installation's: a key bound to no platform reads it,
        # a platform's key does not see it at all.
        shown = await world.client.get(f"/v1/ledger/accounts/{clearing}", headers=world.admin)
        assert (shown.status_code, shown.json()["is_managed"]) == (200, True)
        hidden = await world.client.get(f"/v1/ledger/accounts/{clearing}", headers=world.platform)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "account_not_found")
        opened = await world.client.post(
            "/v1/ledger/accounts", json={"currency": "XOF", "kind": "world"}, headers=world.admin
        )
        own = opened.json()["id"]
        before = await snapshot(world.sessions)
        for debit, credit in ((clearing, own), (own, clearing)):
            moved = await world.client.post(
                "/v1/ledger/transfers",
                json={
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "amount_minor": AMOUNT,
                    "currency": "XOF",
                    "code": "raw",
                },
                headers=world.admin,
            )
            assert moved.status_code == 409, moved.text
            assert moved.json()["code"] == "account_managed"
        closed = await world.client.post(f"/v1/ledger/accounts/{clearing}/close", headers=world.admin)
        assert closed.status_code == 409, closed.text
        assert closed.json()["code"] == "account_managed"
        assert await snapshot(world.sessions) == before
        assert await clearing_posted(world) == AMOUNT
        await assert_ledger_clean(world.sessions)

    async def test_a_payout_the_provider_fails_releases_the_hold(self, world: World, kofi: PartyWallet) -> None:
        payout = await funded_payout(world, kofi, phone="+2250700000002")
        assert payout["status"] == "processing"
        await world.deliver(1)
        await world.run_jobs()

        shown = await world.shown("payouts", payout["id"])
        assert (shown["status"], shown["failure"]["code"]) == ("failed", "failed")
        assert await world.wallet(kofi) == (FUNDS, 0)
        assert await clearing_posted(world) == 0
        await assert_ledger_clean(world.sessions)

    async def test_a_reversal_heard_before_the_success_releases_the_hold_and_the_stale_success_changes_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout = await funded_payout(world, kofi, phone="+2250700000063")
        reversed_, stale_success = await world.sandbox.receiver.wait_for(2)
        assert b"transfer.reversed" in reversed_.body
        assert b"transfer.success" in stale_success.body
        for received in (reversed_, stale_success):
            assert (await deliver(world.client, received)).status_code == 200
            await world.run_jobs()

        shown = await world.shown("payouts", payout["id"])
        assert shown["status"] == "reversed"
        assert shown["reversal_transfer_id"] is None, "nothing was captured, so nothing is given back"
        assert await world.wallet(kofi) == (FUNDS, 0)
        assert await count(world.sessions, "webhooks_inbound_events", "outcome = 'unchanged'") == 1
        await assert_ledger_clean(world.sessions)

    async def test_a_reversal_after_the_capture_gives_the_money_back(self, world: World, kofi: PartyWallet) -> None:
        payout = await funded_payout(world, kofi, phone="+2250700000063")
        reversed_, success = await world.sandbox.receiver.wait_for(2)
        assert (await deliver(world.client, success)).status_code == 200
        await world.run_jobs()
        assert await world.wallet(kofi) == (FUNDS - AMOUNT, 0)

        assert (await deliver(world.client, reversed_)).status_code == 200
        await world.run_jobs()
        shown = await world.shown("payouts", payout["id"])
        assert shown["status"] == "reversed"
        assert shown["reversal_transfer_id"] == f"{payout['id']}.reversal"
        assert await world.wallet(kofi) == (FUNDS, 0)
        assert await clearing_posted(world) == 0
        await assert_ledger_clean(world.sessions)

    async def test_a_payout_the_provider_refuses_at_once_fails_and_releases_the_hold(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout = await funded_payout(world, kofi, phone="+2250700000051")
        assert payout["status"] == "failed"
        assert payout["failure"]["code"] == "insufficient_funds"
        assert await world.wallet(kofi) == (FUNDS, 0)
        await assert_ledger_clean(world.sessions)

    async def test_a_provider_that_wants_an_otp_for_transfers_raises_an_alert_and_keeps_the_hold(
        self, world: World, kofi: PartyWallet
    ) -> None:
        async with world.sandbox.admin() as admin:
            await admin.patch("/config", json={"paystack_transfer_otp": True})
        payout = await funded_payout(world, kofi)
        assert payout["status"] == "processing"
        assert await alerts_for(world.sessions, payout["id"]) == [("payout.requires_otp", "warning")]
        assert await world.wallet(kofi) == (FUNDS, AMOUNT)
        await assert_ledger_clean(world.sessions)


class TestThePayoutOwnsItsHold:
    @pytest.mark.parametrize("action", ["capture", "release"])
    @pytest.mark.parametrize("credential", ["its party's token", "platform key", "admin key"])
    async def test_the_holds_api_cannot_resolve_it_and_the_payout_still_completes(
        self, world: World, kofi: PartyWallet, credential: str, action: str
    ) -> None:
        payout = await funded_payout(world, kofi)
        accomplice = await payer(world.client, world.platform)
        headers = {
            "its party's token": await party_headers(world.client, world.platform, kofi.party_id),
            "platform key": world.platform,
            "admin key": world.admin,
        }[credential]
        body = {"destination_wallet_id": accomplice.wallet_id} if action == "capture" else None
        ledger_before = await snapshot(world.sessions)
        before = await world.footprint()
        response = await world.client.post(f"/v1/holds/{payout['hold_id']}/{action}", json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (409, "hold_owned_by_payout"), response.text
        assert await snapshot(world.sessions) == ledger_before
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (FUNDS, AMOUNT)
        assert await world.wallet(accomplice) == (0, 0)
        hold = (await world.client.get(f"/v1/holds/{payout['hold_id']}", headers=world.platform)).json()
        assert (hold["status"], hold["owner_type"], hold["owner_id"]) == ("open", "payout", payout["id"])

        await world.deliver(1)
        await world.run_jobs()
        assert (await world.shown("payouts", payout["id"]))["status"] == "succeeded"
        assert await world.wallet(kofi) == (FUNDS - AMOUNT, 0)
        assert await world.wallet(accomplice) == (0, 0)
        assert await clearing_posted(world) == AMOUNT
        await assert_ledger_clean(world.sessions)


class TestPayoutRefusals:
    async def test_a_payout_above_the_available_money_is_refused_and_holds_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        await world.top_up(kofi, AMOUNT - 1)
        before = await world.footprint()
        response = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT))
        assert response.status_code == 409
        assert response.json()["code"] == "insufficient_funds"
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (AMOUNT - 1, 0)

    async def test_a_suspended_partys_wallet_pays_nothing_out(self, world: World, kofi: PartyWallet) -> None:
        await world.top_up(kofi, FUNDS)
        suspended = await world.client.patch(
            f"/v1/parties/{kofi.party_id}", json={"status": "suspended"}, headers=world.platform
        )
        assert suspended.status_code == 200, suspended.text
        before = await world.footprint()
        response = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT))
        assert response.status_code == 409
        assert response.json()["code"] == "party_suspended"
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (FUNDS, 0)

    async def test_the_same_key_pays_out_once(self, world: World, kofi: PartyWallet) -> None:
        await world.top_up(kofi, FUNDS)
        first = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT), key="withdraw-1")
        before = await world.footprint()
        second = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT), key="withdraw-1")
        assert second.json() == first.json()
        assert second.headers["Idempotent-Replayed"] == "true"
        assert await world.footprint() == before
        assert before["payments_payouts"] == before["sandbox payouts"] == 1
        assert await world.wallet(kofi) == (FUNDS, AMOUNT)

    async def test_a_party_token_cannot_pay_out(self, world: World, kofi: PartyWallet) -> None:
        await world.top_up(kofi, FUNDS)
        headers = await party_headers(world.client, world.platform, kofi.party_id)
        before = await world.footprint()
        response = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT), headers=headers)
        assert response.status_code == 403
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (FUNDS, 0)
