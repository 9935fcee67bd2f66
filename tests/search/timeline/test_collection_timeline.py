"""GET /v1/collections/{id}/timeline: an Orange Money collection that asked for an
OTP, was paid once the OTP was submitted, then heard of again by Paystack's
webhook (news already known) and once more by its retry (a duplicate, stored
nowhere) tells that story in order, each step with its cause; no secret, card
data or webhook body is in it; another platform's support key cannot read it."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.support.factories import PartyWallet
from tests.support.operations import row_counts
from tests.support.payments import OTP, World, collection_body, deliver, mobile_money

AMOUNT = 5_000
CARD_TOKEN = "pm_card_visa"
"""A card the sandbox (Stripe) charges at once."""


async def _paid_after_otp(world: World, kofi: PartyWallet) -> tuple[str, list[Any]]:
    started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
    assert started.status_code == 201, started.text
    collection_id = started.json()["id"]
    otp = await world.client.post(f"/v1/collections/{collection_id}/otp", json={"otp": OTP}, headers=world.platform)
    assert otp.json()["status"] == "succeeded", otp.text
    received = await world.deliver(1)
    await world.run_jobs()
    retried = await deliver(world.client, received[0])
    assert retried.json() == {"received": True, "duplicate": True}
    return collection_id, received


async def _support(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(world.sessions, Scope.support)}"}


def _steps(timeline: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(entry["kind"], entry["state"]) for entry in timeline["entries"]]


async def test_a_collection_tells_its_story_in_order_with_each_cause(world: World, kofi: PartyWallet) -> None:
    collection_id, _ = await _paid_after_otp(world, kofi)
    response = await world.client.get(f"/v1/collections/{collection_id}/timeline", headers=await _support(world))
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["collection"]["state"] == "succeeded"
    assert timeline["collection"]["provider"] == "paystack"
    assert _steps(timeline) == [
        ("state_change", "initiated"),
        ("provider_call", "200"),
        ("state_change", "action_required"),
        ("state_change", "processing"),
        ("provider_call", "200"),
        ("state_change", "succeeded"),
        ("ledger_transfer", None),
        ("webhook_received", "processed"),
    ]
    entries = timeline["entries"]
    changes_by_api = [entry for entry in entries if entry["kind"] == "state_change"]
    # Every step by the API names the platform's key and its request; the OTP step says it came after the OTP.
    platform_key = {entry["cause"]["actor"] for entry in changes_by_api}
    assert len(platform_key) == 1
    assert next(iter(platform_key)).startswith("key:key_")
    assert all(entry["cause"]["request_id"] for entry in changes_by_api)
    assert changes_by_api[2]["details"]["after"] == "otp_submitted"
    assert [entry["cause"]["source"] for entry in changes_by_api[1:4]] == ["api", None, "api"]
    # What Sika asked Paystack and what it answered: the charge asked for an OTP, the OTP (redacted) paid it.
    charge, otp = (entry for entry in entries if entry["kind"] == "provider_call")
    assert (charge["action"], charge["details"]["response"]["data"]["status"]) == ("POST /paystack/charge", "send_otp")
    assert charge["details"]["request"]["json"]["amount"] == AMOUNT * 100
    assert (otp["action"], otp["details"]["request"]["json"]["otp"]) == (
        "POST /paystack/charge/submit_otp",
        "[redacted]",
    )
    assert otp["details"]["response"]["data"]["status"] == "success"
    credit = entries[6]
    assert credit["id"] == f"{collection_id}.credit"
    assert (credit["details"]["code"], credit["details"]["amount_minor"]) == ("collection.succeeded", AMOUNT)
    # The wallet's money around the credit, derived from the ledger's entries.
    assert credit["details"]["account_id"] == credit["details"]["credit_account_id"]
    assert (credit["details"]["balance_before_minor"], credit["details"]["balance_after_minor"]) == (0, AMOUNT)
    webhook = entries[7]
    assert webhook["details"]["event_type"] == "charge.success"
    assert (webhook["details"]["outcome"], webhook["details"]["duplicate"]) == ("unchanged", True)
    assert webhook["details"]["signature"] == "verified"
    changes = [entry["at"] for entry in entries if entry["kind"] != "ledger_transfer"]
    assert changes == sorted(changes)


async def test_no_secret_card_data_or_webhook_body_is_in_a_timeline(world: World, kofi: PartyWallet) -> None:
    """Scans the timelines of a mobile-money and a card collection, each with its webhook, for
    every configured secret, the keys used, the webhooks' signatures and bodies, and the card token."""
    support = await _support(world)
    orange_id, orange_webhooks = await _paid_after_otp(world, kofi)
    card = await world.collect(
        collection_body(kofi, amount_minor=AMOUNT, method={"type": "card", "card_token": CARD_TOKEN})
    )
    assert card.json()["status"] == "succeeded", card.text
    card_webhooks = await world.deliver(1)
    await world.run_jobs()
    secrets = [
        value.get_secret_value()
        for value in world.settings.model_dump().values()
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 8
    ]
    assert len(secrets) >= 3, "the provider keys and webhook secrets are configured"
    secrets += [world.platform["Authorization"].split()[1], support["Authorization"].split()[1], CARD_TOKEN]
    for webhook in (*orange_webhooks, *card_webhooks):
        secrets += [value for name, value in webhook.headers.items() if "signature" in name]
        secrets.append(webhook.body.decode())
    for collection_id in (orange_id, card.json()["id"]):
        timeline = await world.client.get(f"/v1/collections/{collection_id}/timeline", headers=support)
        assert timeline.status_code == 200, timeline.text
        assert len(timeline.json()["entries"]) >= 4
        assert [secret for secret in secrets if secret in timeline.text] == []
        assert "authorization_code" not in timeline.text
        assert "card_token" not in timeline.text


async def test_only_support_of_its_platform_reads_it(
    world: World, kofi: PartyWallet, elsewhere: dict[str, str]
) -> None:
    collection_id, _ = await _paid_after_otp(world, kofi)
    path = f"/v1/collections/{collection_id}/timeline"
    before = await row_counts(world.sessions)

    refused = await world.client.get(path, headers=world.platform)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    hidden = await world.client.get(path, headers=elsewhere)
    made_up = await world.client.get("/v1/collections/col_aaaaaaaaaaaaaaaaaaaaaaaaaa/timeline", headers=elsewhere)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "collection_not_found")
    assert (made_up.status_code, made_up.json()["code"]) == (404, "collection_not_found")
    assert await row_counts(world.sessions) == before
