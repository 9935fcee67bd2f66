"""The admin endpoint: scenarios, timings, acting as the customer, and the
webhook log with its replays, releases, retries and tampering."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sika.cli import app as cli_app
from sika.core.config import Environment
from sika.sandbox import scenarios
from sika.sandbox.app import SandboxRefused, create_app
from sika.sandbox.scenarios import Scenario
from sika.sandbox.state import SandboxConfig
from tests.support.sandbox import PAYSTACK_SECRET, LiveSandbox, eventually, sandbox_settings

PAYSTACK = {"Authorization": f"Bearer {PAYSTACK_SECRET}"}


async def finished_deliveries(admin: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """The webhook log once every delivery in it is done: the sandbox records an
    attempt just after the receiver answers, so a test that saw the webhook arrive
    may still read the log before that."""

    async def check() -> list[dict[str, Any]] | None:
        listed: list[dict[str, Any]] = (await admin.get("/webhooks", params=params)).json()
        return listed if listed and all(d["status"] in ("delivered", "failed") for d in listed) else None

    done: list[dict[str, Any]] = await eventually(check, what="the deliveries to finish")
    return done


def mtn_charge(last_four: str = "0000", reference: str = "ref-1") -> dict[str, object]:
    return {
        "email": "awa@example.com",
        "amount": 500_000,
        "currency": "XOF",
        "reference": reference,
        "mobile_money": {"phone": f"+225050000{last_four}", "provider": "mtn"},
    }


class TestScenarios:
    def test_the_overview_documents_magic_numbers_and_the_otp(self, sandbox: LiveSandbox) -> None:
        overview = httpx.get(f"{sandbox.url}/_sandbox", timeout=5).json()
        assert overview["valid_otp"] == "123456"
        table = {row["last_four"]: row["scenario"] for row in overview["magic_numbers"]}
        assert table == {
            "0051": "insufficient_funds",
            "9995": "insufficient_funds",
            "0002": "declined",
            "3155": "authentication_required",
            "0052": "no_answer",
            "0053": "outage",
            "0054": "latency",
            "0061": "webhook_duplicate",
            "0062": "webhook_late",
            "0063": "webhook_out_of_order",
            "0064": "webhook_never",
            "0065": "webhook_amount_mismatch",
        }
        assert overview["wire_exponents"]["paystack"]["XOF"] == 2
        assert overview["wire_exponents"]["fedapay"]["XOF"] == 0

    @pytest.mark.parametrize(
        ("number", "scenario"),
        [
            ("+2250700000000", Scenario.success),
            ("+225 07 00 00 00 51", Scenario.insufficient_funds),
            ("4000000000009995", Scenario.insufficient_funds),
            ("4242424242424242", Scenario.success),
            (None, Scenario.success),
            ("0064", Scenario.webhook_never),
        ],
    )
    def test_the_last_four_digits_choose_the_scenario(self, number: str | None, scenario: Scenario) -> None:
        assert scenarios.for_number(number) is scenario

    async def test_a_forced_scenario_wins_over_the_number_until_cleared(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.put("/scenarios/paystack", json={"scenario": "insufficient_funds"})
        declined = await client.post("/paystack/charge", json=mtn_charge(reference="a"), headers=PAYSTACK)
        assert declined.json()["data"]["status"] == "failed"
        assert declined.json()["data"]["gateway_response"] == "Insufficient funds"
        cleared = await admin.delete("/scenarios/paystack")
        assert cleared.json() == {"forced": {}}
        fine = await client.post("/paystack/charge", json=mtn_charge(reference="b"), headers=PAYSTACK)
        assert fine.json()["data"]["status"] == "pay_offline"

    async def test_refuses_an_unknown_scenario_or_provider(self, admin: httpx.AsyncClient) -> None:
        assert (await admin.put("/scenarios/paystack", json={"scenario": "chaos"})).status_code == 422
        assert (await admin.put("/scenarios/paypal", json={"scenario": "outage"})).status_code == 422
        assert (await admin.get("/scenarios")).json()["forced"] == {}


class TestActingAsTheCustomer:
    async def test_without_auto_approval_a_charge_waits_for_the_admin_to_approve_it(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        patched = await admin.patch("/config", json={"auto_approve": False})
        assert patched.json()["auto_approve"] is False
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        await asyncio.sleep(sandbox.settings.SANDBOX_APPROVAL_DELAY_SECONDS + 0.2)
        assert sandbox.receiver.received == []
        approved = await admin.post("/payments/paystack/ref-1/complete", json={"outcome": "succeeded"})
        assert approved.json()["status"] == "success"
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["data"]["reference"] == "ref-1"

    async def test_a_refused_paystack_charge_fails_without_a_webhook(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"auto_approve": False})
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        refused = await admin.post("/payments/paystack/ref-1/complete", json={"outcome": "failed"})
        assert refused.json()["status"] == "failed"
        verified = await client.get("/paystack/transaction/verify/ref-1", headers=PAYSTACK)
        assert verified.json()["data"]["status"] == "failed"
        await asyncio.sleep(0.2)
        assert sandbox.receiver.received == []

    async def test_unknown_payments_are_404(self, admin: httpx.AsyncClient) -> None:
        assert (await admin.post("/payments/paystack/nope/complete", json={})).status_code == 404
        assert (await admin.get("/payments/stripe/pi_nope")).status_code == 404


class TestWebhookLog:
    async def test_lists_what_was_sent_with_its_attempts_and_filters(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        await sandbox.receiver.wait_for(1)
        [delivery] = await finished_deliveries(admin, provider="paystack", reference="ref-1")
        assert delivery["event_type"] == "charge.success"
        assert delivery["status"] == "delivered"
        assert delivery["target"] == f"{sandbox.receiver.url}/paystack"
        assert [a["status_code"] for a in delivery["attempts"]] == [200]
        assert delivery["payload"]["data"]["amount"] == 500_000
        assert (await admin.get("/webhooks", params={"provider": "stripe"})).json() == []
        assert (await admin.get("/webhooks", params={"event_type": "transfer.success"})).json() == []

    async def test_a_resend_is_a_byte_identical_duplicate(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        [original] = await sandbox.receiver.wait_for(1)
        [delivery] = (await admin.get("/webhooks")).json()
        resent = await admin.post(f"/webhooks/{delivery['id']}/resend", json={})
        assert resent.json()["note"] == f"resent copy of {delivery['id']}"
        _, duplicate = await sandbox.receiver.wait_for(2)
        assert duplicate.body == original.body
        assert duplicate.headers["x-paystack-signature"] == original.headers["x-paystack-signature"]

    async def test_only_a_withheld_webhook_can_be_released(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        await sandbox.receiver.wait_for(1)
        [delivery] = (await admin.get("/webhooks")).json()
        assert (await admin.post(f"/webhooks/{delivery['id']}/release")).status_code == 409
        assert (await admin.post("/webhooks/whd_nope/release")).status_code == 404

    async def test_a_failing_receiver_is_retried_then_the_webhook_is_marked_failed(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"webhook_retry_delays_seconds": [0.05, 0.05]})
        sandbox.receiver.status_code = 500
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        await sandbox.receiver.wait_for(3)
        [delivery] = await finished_deliveries(admin)
        assert delivery["status"] == "failed"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
        assert len(sandbox.receiver.received) == 3

    async def test_webhooks_go_to_the_target_set_at_run_time(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"webhook_target": sandbox.receiver.url + "/elsewhere"})
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        [webhook] = await sandbox.receiver.wait_for(1)
        assert webhook.path == "/hooks/elsewhere/paystack"

    async def test_reset_forgets_everything_and_restores_the_configuration(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"auto_approve": False})
        await admin.put("/scenarios/stripe", json={"scenario": "outage"})
        await client.post("/paystack/charge", json=mtn_charge(), headers=PAYSTACK)
        assert (await admin.post("/reset")).json() == {"status": "reset"}
        overview = (await admin.get(sandbox.url + "/_sandbox")).json()
        assert overview["counts"] == {"payments": 0, "payouts": 0, "webhooks": 0}
        assert overview["forced"] == {}
        assert overview["config"]["auto_approve"] is True


class TestStartingTheSandbox:
    def test_webhooks_default_to_sikas_own_intake(self) -> None:
        settings = sandbox_settings(PUBLIC_URL="https://sika.example/")
        assert SandboxConfig.from_settings(settings).webhook_target == "https://sika.example/v1/webhooks"

    def test_the_webhook_target_setting_and_then_the_argument_win(self) -> None:
        settings = sandbox_settings(SANDBOX_WEBHOOK_TARGET="http://127.0.0.1:9/hooks")
        assert SandboxConfig.from_settings(settings).webhook_target == "http://127.0.0.1:9/hooks"
        chosen = SandboxConfig.from_settings(settings, webhook_target="http://127.0.0.1:10/in")
        assert chosen.webhook_target == "http://127.0.0.1:10/in"

    def test_refuses_to_run_in_production(self) -> None:
        with pytest.raises(SandboxRefused):
            create_app(sandbox_settings(ENV=Environment.production))

    def test_the_cli_has_a_sandbox_command(self) -> None:
        result = CliRunner().invoke(cli_app, ["sandbox", "--help"])
        assert result.exit_code == 0
        assert "--webhook-target" in result.output
