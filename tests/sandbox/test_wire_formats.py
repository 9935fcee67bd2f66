"""The sandbox speaks each provider's own paths, fields, envelopes, auth and
signatures: checked here with raw HTTP and independently computed HMACs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import datetime

import httpx
import pytest

from tests.support.sandbox import (
    FEDAPAY_SECRET,
    FEDAPAY_WEBHOOK_SECRET,
    PAYSTACK_SECRET,
    STRIPE_SECRET,
    STRIPE_WEBHOOK_SECRET,
    LiveSandbox,
)

PAYSTACK = {"Authorization": f"Bearer {PAYSTACK_SECRET}"}
FEDAPAY = {"Authorization": f"Bearer {FEDAPAY_SECRET}"}
STRIPE = {"Authorization": f"Bearer {STRIPE_SECRET}"}
MTN_CHARGE = {
    "email": "awa@example.com",
    "amount": 500_000,
    "currency": "XOF",
    "mobile_money": {"phone": "+2250500000000", "provider": "mtn"},
}


NONE = type(None)
# Paystack's Transfer API answers, field by field and type by type
# (https://paystack.com/docs/api/transfer/: initiate, finalize and verify).
PAYSTACK_TRANSFER_INITIATED = {
    "transfersessionid": list,
    "transfertrials": list,
    "domain": str,
    "amount": int,
    "currency": str,
    "reference": str,
    "source": str,
    "source_details": NONE,
    "reason": str,
    "status": str,
    "failures": NONE,
    "transfer_code": str,
    "titan_code": NONE,
    "transferred_at": NONE,
    "id": int,
    "integration": int,
    "request": int,
    "recipient": int,
    "createdAt": str,
    "updatedAt": str,
}
PAYSTACK_RECIPIENT_DETAILS = {
    "authorization_code": NONE,
    "account_number": str,
    "account_name": str,
    "bank_code": str,
    "bank_name": str,
}
PAYSTACK_RECIPIENT_CREATED = {
    "active": bool,
    "createdAt": str,
    "currency": str,
    "domain": str,
    "id": int,
    "integration": int,
    "name": str,
    "recipient_code": str,
    "type": str,
    "updatedAt": str,
    "is_deleted": bool,
    "details": dict,
}
PAYSTACK_TRANSFER_VERIFIED = {
    **{k: v for k, v in PAYSTACK_TRANSFER_INITIATED.items() if k not in ("transfersessionid", "transfertrials")},
    "recipient": dict,
    "session": dict,
    "fee_charged": int,
    "fees_breakdown": NONE,
    "gateway_response": NONE,
}
PAYSTACK_RECIPIENT_IN_A_TRANSFER = {
    **PAYSTACK_RECIPIENT_CREATED,
    "description": str,
    "email": NONE,
    "metadata": NONE,
    "isDeleted": bool,
}


def shape(obj: dict[str, object]) -> dict[str, type]:
    return {key: type(value) for key, value in obj.items()}


class TestPaystackWire:
    async def test_refuses_a_missing_or_wrong_secret_key_in_its_envelope(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, {"Authorization": "Bearer sk_test_wrong"}):
            response = await client.post("/paystack/charge", json=MTN_CHARGE, headers=headers)
            assert response.status_code == 401
            assert response.json() == {"status": False, "message": "Invalid key"}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"email": "nobody"}, "Invalid Email Address Passed"),
            ({"amount": 500_050}, "Amount 500050 is not a whole number of XOF minor units (amounts are in 10^-2)"),
            ({"amount": 0}, "Amount must be positive"),
            ({"currency": "EUR"}, "Currency EUR is not supported"),
        ],
    )
    async def test_refuses_bad_input_with_status_false(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient, change: dict[str, object], message: str
    ) -> None:
        response = await client.post("/paystack/charge", json={**MTN_CHARGE, **change}, headers=PAYSTACK)
        assert response.status_code == 400
        assert response.json() == {"status": False, "message": message}
        assert (await admin.get("/payments")).json() == []

    async def test_takes_amounts_as_numeric_strings_too(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/paystack/charge", json={**MTN_CHARGE, "amount": "500000"}, headers=PAYSTACK)
        assert response.json()["data"]["status"] == "pay_offline"

    async def test_refuses_a_duplicate_reference(self, client: httpx.AsyncClient) -> None:
        body = {**MTN_CHARGE, "reference": "ref-1"}
        assert (await client.post("/paystack/charge", json=body, headers=PAYSTACK)).status_code == 200
        again = await client.post("/paystack/charge", json=body, headers=PAYSTACK)
        assert again.status_code == 400
        assert again.json() == {"status": False, "message": "Duplicate Transaction Reference"}

    async def test_a_pending_charge_reads_as_pay_offline_until_approved(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient
    ) -> None:
        charged = await client.post("/paystack/charge", json={**MTN_CHARGE, "reference": "ref-2"}, headers=PAYSTACK)
        assert charged.json() == {
            "status": True,
            "message": "Charge attempted",
            "data": {
                "reference": "ref-2",
                "status": "pay_offline",
                "display_text": "Please complete authorization process on your mobile phone",
            },
        }
        pending = await client.get("/paystack/charge/ref-2", headers=PAYSTACK)
        assert pending.json()["data"]["status"] == "pay_offline"
        verified = await client.get("/paystack/transaction/verify/ref-2", headers=PAYSTACK)
        assert verified.json()["data"]["status"] == "ongoing"
        await sandbox.receiver.wait_for(1)
        done = await client.get("/paystack/charge/ref-2", headers=PAYSTACK)
        assert done.json()["data"]["status"] == "success"
        assert done.json()["data"]["amount"] == 500_000

    async def test_transfer_answers_carry_every_documented_field_in_its_documented_type(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"paystack_transfer_otp": True})
        recipient = {
            "type": "mobile_money",
            "name": "Awa",
            "account_number": "+2250700000000",
            "bank_code": "MTN",
            "currency": "XOF",
        }
        created = (await client.post("/paystack/transferrecipient", json=recipient, headers=PAYSTACK)).json()["data"]
        assert shape(created) == PAYSTACK_RECIPIENT_CREATED
        assert shape(created["details"]) == PAYSTACK_RECIPIENT_DETAILS
        order = {"source": "balance", "amount": 500_000, "currency": "XOF", "reason": "Payout", "reference": "po_1"}
        initiated = await client.post(
            "/paystack/transfer", json={**order, "recipient": created["recipient_code"]}, headers=PAYSTACK
        )
        data = initiated.json()["data"]
        assert shape(data) == PAYSTACK_TRANSFER_INITIATED
        assert (data["status"], data["recipient"]) == ("otp", created["id"])
        finalized = await client.post(
            "/paystack/transfer/finalize_transfer",
            json={"transfer_code": data["transfer_code"], "otp": "123456"},
            headers=PAYSTACK,
        )
        assert shape(finalized.json()["data"]) == PAYSTACK_TRANSFER_INITIATED
        verified = (await client.get("/paystack/transfer/verify/po_1", headers=PAYSTACK)).json()["data"]
        assert shape(verified) == PAYSTACK_TRANSFER_VERIFIED
        assert shape(verified["recipient"]) == PAYSTACK_RECIPIENT_IN_A_TRANSFER
        assert verified["session"] == {"provider": None, "id": None}
        for moment in (verified["createdAt"], verified["updatedAt"], verified["recipient"]["updatedAt"]):
            assert moment.endswith("Z")
            datetime.fromisoformat(moment)

    async def test_signs_webhooks_with_the_hex_hmac_sha512_of_the_raw_body(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient
    ) -> None:
        await client.post("/paystack/charge", json=MTN_CHARGE, headers=PAYSTACK)
        [webhook] = await sandbox.receiver.wait_for(1)
        expected = hmac.new(PAYSTACK_SECRET.encode(), webhook.body, hashlib.sha512).hexdigest()
        assert webhook.headers["x-paystack-signature"] == expected
        assert webhook.headers["content-type"] == "application/json"


class TestFedapayWire:
    async def _transaction(self, client: httpx.AsyncClient, number: str = "+2290164000000") -> dict[str, object]:
        created = await client.post(
            "/fedapay/v1/transactions",
            json={
                "description": "Order 42",
                "amount": 5_000,
                "currency": {"iso": "XOF"},
                "customer": {"email": "awa@example.com", "phone_number": {"number": number, "country": "bj"}},
            },
            headers=FEDAPAY,
        )
        assert created.status_code == 200
        transaction: dict[str, object] = created.json()["v1/transaction"]
        return transaction

    async def test_wraps_objects_by_their_class(self, client: httpx.AsyncClient) -> None:
        transaction = await self._transaction(client)
        assert transaction["klass"] == "v1/transaction"
        assert transaction["status"] == "pending"
        assert transaction["amount"] == 5_000
        fetched = await client.get(f"/fedapay/v1/transactions/{transaction['id']}", headers=FEDAPAY)
        assert fetched.json()["v1/transaction"]["id"] == transaction["id"]

    @pytest.mark.parametrize("path", ["/fedapay/v1/{mode}", "/fedapay/v1/transactions/{mode}"])
    async def test_sends_now_on_either_path(self, sandbox: LiveSandbox, client: httpx.AsyncClient, path: str) -> None:
        transaction = await self._transaction(client)
        token = (await client.post(f"/fedapay/v1/transactions/{transaction['id']}/token", headers=FEDAPAY)).json()
        assert set(token) == {"token", "url"}
        sent = await client.post(path.format(mode="mtn_open"), json={"token": token["token"]}, headers=FEDAPAY)
        assert sent.status_code == 200
        assert sent.json()["status"] == "pending"
        assert sent.json()["mode"] == "mtn_open"
        again = await client.post(path.format(mode="mtn_open"), json={"token": token["token"]}, headers=FEDAPAY)
        assert again.status_code == 400
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "transaction.approved"

    @pytest.mark.parametrize("kind", ["transactions", "payouts"])
    async def test_refuses_a_merchant_reference_already_taken_and_an_amount_that_is_not_whole(
        self, client: httpx.AsyncClient, kind: str
    ) -> None:
        body = {
            "amount": 5_000,
            "currency": {"iso": "XOF"},
            "mode": "mtn_open",
            "merchant_reference": "ref-9",
            "customer": {"email": "awa@example.com", "phone_number": {"number": "+2290164000000", "country": "bj"}},
        }
        assert (await client.post(f"/fedapay/v1/{kind}", json=body, headers=FEDAPAY)).status_code == 200
        again = await client.post(f"/fedapay/v1/{kind}", json=body, headers=FEDAPAY)
        assert again.status_code == 400
        assert again.json()["errors"] == {"merchant_reference": ["has already been taken"]}
        fractional = {**body, "merchant_reference": "ref-10", "amount": 5_000.5}
        refused = await client.post(f"/fedapay/v1/{kind}", json=fractional, headers=FEDAPAY)
        assert refused.status_code == 400
        assert set(refused.json()["errors"]) == {"amount"}

    async def test_refuses_an_unknown_mode(self, client: httpx.AsyncClient) -> None:
        transaction = await self._transaction(client)
        token = (await client.post(f"/fedapay/v1/transactions/{transaction['id']}/token", headers=FEDAPAY)).json()
        refused = await client.post("/fedapay/v1/carrier_pigeon", json={"token": token["token"]}, headers=FEDAPAY)
        assert refused.status_code == 400
        assert refused.json() == {
            "message": "Invalid payment mode 'carrier_pigeon'",
            "errors": {"mode": ["is invalid"]},
        }

    @pytest.mark.parametrize("mode", ["orange_ci", "moov_ci", "orange_sn", "wave_ci", "wave_sn"])
    async def test_refuses_to_send_now_a_mode_that_pays_on_the_checkout_only(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient, mode: str
    ) -> None:
        transaction = await self._transaction(client, "+2250700000000")
        token = (await client.post(f"/fedapay/v1/transactions/{transaction['id']}/token", headers=FEDAPAY)).json()
        refused = await client.post(f"/fedapay/v1/{mode}", json={"token": token["token"]}, headers=FEDAPAY)
        assert refused.status_code == 400
        assert refused.json() == {
            "message": f"The payment mode {mode!r} is not available without redirection",
            "errors": {"mode": ["is not available without redirection"]},
        }
        fetched = (await client.get(f"/fedapay/v1/transactions/{transaction['id']}", headers=FEDAPAY)).json()
        assert (fetched["v1/transaction"]["status"], fetched["v1/transaction"]["mode"]) == ("pending", None)
        # The refused call used nothing up: the same token still sends on a mode FedaPay sends at once.
        sent = await client.post("/fedapay/v1/mtn_ci", json={"token": token["token"]}, headers=FEDAPAY)
        assert sent.status_code == 200
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["entity"]["mode"] == "mtn_ci"

    async def test_states_the_currency_object_only_when_include_asks_for_it(self, client: httpx.AsyncClient) -> None:
        bare = await self._transaction(client)
        assert "currency" not in bare
        assert bare["currency_id"] == 1
        included = await client.post(
            "/fedapay/v1/transactions",
            json={
                "description": "Order 43",
                "amount": 5_000,
                "currency": {"iso": "XOF"},
                "merchant_reference": "ref-43",
                "customer": {"email": "awa@example.com"},
                "include": "customer,currency",
            },
            headers=FEDAPAY,
        )
        assert included.json()["v1/transaction"]["currency"]["iso"] == "XOF"
        for path in (f"/fedapay/v1/transactions/{bare['id']}", "/fedapay/v1/transactions/merchant/ref-43"):
            without = (await client.get(path, headers=FEDAPAY)).json()["v1/transaction"]
            assert "currency" not in without
            assert without["currency_id"] == 1
            asked = await client.get(path, params={"include": "currency"}, headers=FEDAPAY)
            assert asked.json()["v1/transaction"]["currency"] == {
                "klass": "v1/currency",
                "id": 1,
                "iso": "XOF",
                "name": "FCFA",
            }

    async def test_keeps_custom_metadata_not_metadata(self, client: httpx.AsyncClient) -> None:
        created = await client.post(
            "/fedapay/v1/transactions",
            json={
                "description": "Order 44",
                "amount": 5_000,
                "currency": {"iso": "XOF"},
                "customer": {"email": "awa@example.com"},
                "custom_metadata": {"order": "44"},
                "metadata": {"ignored": True},
            },
            headers=FEDAPAY,
        )
        transaction_id = created.json()["v1/transaction"]["id"]
        fetched = (await client.get(f"/fedapay/v1/transactions/{transaction_id}", headers=FEDAPAY)).json()
        assert fetched["v1/transaction"]["custom_metadata"] == {"order": "44"}
        assert "metadata" not in fetched["v1/transaction"]

    async def test_refuses_a_missing_key_and_unknown_objects(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/fedapay/v1/transactions/1")).status_code == 401
        missing = await client.get("/fedapay/v1/transactions/1", headers=FEDAPAY)
        assert missing.status_code == 404
        assert missing.json() == {"message": "Transaction not found", "errors": {}}

    async def test_signs_webhooks_with_a_timestamped_hmac_sha256(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient
    ) -> None:
        transaction = await self._transaction(client)
        token = (await client.post(f"/fedapay/v1/transactions/{transaction['id']}/token", headers=FEDAPAY)).json()
        await client.post("/fedapay/v1/moov", json={"token": token["token"]}, headers=FEDAPAY)
        [webhook] = await sandbox.receiver.wait_for(1)
        header = webhook.headers["x-fedapay-signature"]
        t_part, s_part = header.split(",")
        timestamp = t_part.removeprefix("t=")
        expected = hmac.new(FEDAPAY_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + webhook.body, hashlib.sha256)
        assert s_part == f"s={expected.hexdigest()}"


class TestStripeWire:
    async def test_takes_form_encoded_parameters_and_answers_a_payment_intent(self, client: httpx.AsyncClient) -> None:
        created = await client.post(
            "/stripe/v1/payment_intents",
            data={"amount": "5000", "currency": "xof", "payment_method": "pm_card_visa", "metadata[order]": "42"},
            headers=STRIPE,
        )
        intent = created.json()
        assert intent["object"] == "payment_intent"
        assert intent["status"] == "requires_confirmation"
        assert intent["metadata"] == {"order": "42"}
        confirmed = await client.post(f"/stripe/v1/payment_intents/{intent['id']}/confirm", headers=STRIPE)
        assert confirmed.json()["status"] == "succeeded"
        assert confirmed.json()["amount_received"] == 5_000

    async def test_refuses_a_json_body_as_stripe_would_missing_parameters(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/stripe/v1/payment_intents", json={"amount": 5000}, headers=STRIPE)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parameter_invalid_integer"

    async def test_accepts_the_secret_key_as_basic_auth_user(self, client: httpx.AsyncClient) -> None:
        basic = base64.b64encode(f"{STRIPE_SECRET}:".encode()).decode()
        response = await client.get(
            "/stripe/v1/payment_intents/pi_missing", headers={"Authorization": f"Basic {basic}"}
        )
        assert response.status_code == 404
        assert response.json()["error"] == {
            "type": "invalid_request_error",
            "message": "No such payment_intent: 'pi_missing'",
            "code": "resource_missing",
            "param": "intent",
        }
        refused = await client.get("/stripe/v1/payment_intents/pi_missing")
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "invalid_request_error"

    async def test_replays_an_idempotent_request_and_refuses_the_key_with_other_parameters(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        form = {"amount": "5000", "currency": "xof", "payment_method": "pm_card_visa", "confirm": "true"}
        headers = {**STRIPE, "Idempotency-Key": "col_1"}
        first = await client.post("/stripe/v1/payment_intents", data=form, headers=headers)
        replay = await client.post("/stripe/v1/payment_intents", data=form, headers=headers)
        assert replay.json() == first.json()
        assert replay.headers["idempotent-replayed"] == "true"
        other = await client.post("/stripe/v1/payment_intents", data={**form, "amount": "6000"}, headers=headers)
        assert other.status_code == 400
        assert other.json()["error"]["type"] == "idempotency_error"
        assert len((await admin.get("/payments")).json()) == 1

    async def test_a_key_whose_first_request_still_runs_is_in_use_and_the_same_parameters_in_any_order_replay(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        pm = await client.post(
            "/stripe/v1/payment_methods", data={"type": "card", "card[number]": "4000000000000054"}, headers=STRIPE
        )
        form = {"amount": "5000", "currency": "xof", "payment_method": pm.json()["id"], "confirm": "true"}
        headers = {**STRIPE, "Idempotency-Key": "col_slow"}
        first, second = await asyncio.gather(
            client.post("/stripe/v1/payment_intents", data=form, headers=headers),
            client.post("/stripe/v1/payment_intents", data=form, headers=headers),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        in_use = first if first.status_code == 409 else second
        assert in_use.json()["error"]["code"] == "idempotency_key_in_use"
        reordered = dict(reversed(list(form.items())))
        replay = await client.post("/stripe/v1/payment_intents", data=reordered, headers=headers)
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json()["id"] == (second if first.status_code == 409 else first).json()["id"]
        assert len((await admin.get("/payments")).json()) == 1

    async def test_search_sees_an_intent_only_once_the_index_caught_up(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        await admin.patch("/config", json={"stripe_search_lag_seconds": 0.5})
        form = {"amount": "5000", "currency": "xof", "payment_method": "pm_card_visa", "confirm": "true"}
        created = await client.post("/stripe/v1/payment_intents", data={**form, "metadata[ref]": "r1"}, headers=STRIPE)
        query = {"query": "metadata['ref']:'r1'"}
        missed = await client.get("/stripe/v1/payment_intents/search", params=query, headers=STRIPE)
        assert missed.json()["data"] == []
        await asyncio.sleep(0.8)
        found = await client.get("/stripe/v1/payment_intents/search", params=query, headers=STRIPE)
        assert [intent["id"] for intent in found.json()["data"]] == [created.json()["id"]]
        assert found.json()["data"][0]["status"] == "succeeded"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/customers/cus_1"),
            ("POST", "/v1/payment_intents/pi_1/capture"),
            ("DELETE", "/v1/payment_intents"),
            ("PUT", "/v1/payment_intents/pi_1"),
        ],
    )
    async def test_an_unknown_route_or_method_is_a_404_in_stripes_error_envelope(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await client.request(method, f"/stripe{path}", headers=STRIPE)
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path}). "
                "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            }
        }
        assert (await admin.get("/payments")).json() == []

    async def test_signs_webhooks_with_t_and_v1(self, sandbox: LiveSandbox, client: httpx.AsyncClient) -> None:
        await client.post(
            "/stripe/v1/payment_intents",
            data={"amount": "5000", "currency": "xof", "payment_method": "pm_card_visa", "confirm": "true"},
            headers=STRIPE,
        )
        [webhook] = await sandbox.receiver.wait_for(1)
        t_part, v1_part = webhook.headers["stripe-signature"].split(",")
        timestamp = t_part.removeprefix("t=")
        expected = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + webhook.body, hashlib.sha256)
        assert v1_part == f"v1={expected.hexdigest()}"
        event = json.loads(webhook.body)
        assert event["object"] == "event"
        assert event["type"] == "payment_intent.succeeded"
        assert event["livemode"] is False

    async def test_a_latency_card_answers_late_but_answers(
        self, sandbox: LiveSandbox, client: httpx.AsyncClient
    ) -> None:
        pm = await client.post(
            "/stripe/v1/payment_methods", data={"type": "card", "card[number]": "4000000000000054"}, headers=STRIPE
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await client.post(
            "/stripe/v1/payment_intents",
            data={"amount": "5000", "currency": "xof", "payment_method": pm.json()["id"], "confirm": "true"},
            headers=STRIPE,
        )
        assert loop.time() - started >= sandbox.settings.SANDBOX_LATENCY_SECONDS
        assert response.json()["status"] == "succeeded"
