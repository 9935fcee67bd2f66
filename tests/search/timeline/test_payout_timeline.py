"""GET /v1/payouts/{id}/timeline: a payout the provider paid, then took back
(the sandbox's 0063 number: success, then ``transfer.reversed``, the two
webhooks arriving out of order) tells that story in order: the hold placed when
it was initiated, its capture on success, the reversal's transfer giving the
money back, and each webhook; no secret or webhook body is in it; another
platform's support key cannot read it."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.support.factories import PartyWallet
from tests.support.operations import row_counts
from tests.support.payments import World, deliver, payout_body
from tests.support.sandbox import Received

AMOUNT = 2_000
REVERSED_PHONE = "+2250700000063"
"""The sandbox pays it, then reverses it; ``transfer.reversed`` is sent before ``transfer.success``."""


async def _paid_then_reversed(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], list[Received]]:
    await world.top_up(kofi, 10 * AMOUNT)
    made = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone=REVERSED_PHONE))
    assert made.status_code == 201, made.text
    reversed_, success = await world.sandbox.receiver.wait_for(2)
    for webhook in (success, reversed_):
        assert (await deliver(world.client, webhook)).status_code == 200
        await world.run_jobs()
    assert (await world.shown("payouts", made.json()["id"]))["status"] == "reversed"
    return made.json(), [success, reversed_]


async def _support(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(world.sessions, Scope.support)}"}


async def test_a_reversed_payout_tells_its_story_with_each_transfer_after_its_change(
    world: World, kofi: PartyWallet
) -> None:
    payout, _ = await _paid_then_reversed(world, kofi)
    response = await world.client.get(f"/v1/payouts/{payout['id']}/timeline", headers=await _support(world))
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["payout"]["state"] == "reversed"
    assert timeline["payout"]["hold_id"] == payout["hold_id"]
    assert timeline["payout"]["reversal_transfer_id"] == f"{payout['id']}.reversal"
    entries = timeline["entries"]
    changes = [entry for entry in entries if entry["kind"] == "state_change"]
    states = [entry["state"] for entry in changes]
    assert (states[0], states[-2:]) == ("initiated", ["succeeded", "reversed"])
    moved = [
        (entry["id"], entry["details"]["transfer_kind"]) for entry in entries if entry["kind"] == "ledger_transfer"
    ]
    hold, capture, reversal = moved
    assert hold == (payout["hold_id"], "pending")
    assert capture[1] == "post_pending"
    assert reversal == (f"{payout['id']}.reversal", "posted")
    # Each transfer comes right after the change that made it.
    after = {entries[index + 1]["id"]: entry["state"] for index, entry in enumerate(entries[:-1])}
    assert (after[hold[0]], after[capture[0]], after[reversal[0]]) == ("initiated", "succeeded", "reversed")
    webhooks = [entry["details"]["event_type"] for entry in entries if entry["kind"] == "webhook_received"]
    assert sorted(webhooks) == ["transfer.reversed", "transfer.success"]
    assert all(entry["cause"]["actor"] for entry in changes)
    assert changes[0]["cause"]["actor"].startswith("key:key_")
    assert changes[0]["cause"]["request_id"]
    # The changes the webhooks brought name the very event that brought each.
    received = {entry["details"]["event_type"]: entry["id"] for entry in entries if entry["kind"] == "webhook_received"}
    by_webhook = {entry["state"]: entry["cause"] for entry in changes[-2:]}
    assert by_webhook["succeeded"]["request_id"] == received["transfer.success"]
    assert by_webhook["reversed"]["request_id"] == received["transfer.reversed"]
    assert {cause["source"] for cause in by_webhook.values()} == {"webhook"}


async def test_no_secret_or_webhook_body_is_in_a_payout_timeline(world: World, kofi: PartyWallet) -> None:
    support = await _support(world)
    payout, webhooks = await _paid_then_reversed(world, kofi)
    secrets = [
        value.get_secret_value()
        for value in world.settings.model_dump().values()
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 8
    ]
    assert len(secrets) >= 3, "the provider keys and webhook secrets are configured"
    secrets += [world.platform["Authorization"].split()[1], support["Authorization"].split()[1]]
    for webhook in webhooks:
        secrets += [value for name, value in webhook.headers.items() if "signature" in name]
        secrets.append(webhook.body.decode())
    timeline = await world.client.get(f"/v1/payouts/{payout['id']}/timeline", headers=support)
    assert timeline.status_code == 200, timeline.text
    assert len(timeline.json()["entries"]) >= 6
    assert [secret for secret in secrets if secret in timeline.text] == []
    assert REVERSED_PHONE not in timeline.text


async def test_only_support_of_its_platform_reads_a_payouts_story(
    world: World, kofi: PartyWallet, elsewhere: dict[str, str]
) -> None:
    await world.top_up(kofi, 10 * AMOUNT)
    made = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT))
    assert made.status_code == 201, made.text
    path = f"/v1/payouts/{made.json()['id']}/timeline"
    before = await row_counts(world.sessions)

    refused = await world.client.get(path, headers=world.platform)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    hidden = await world.client.get(path, headers=elsewhere)
    made_up = await world.client.get("/v1/payouts/po_aaaaaaaaaaaaaaaaaaaaaaaaaa/timeline", headers=elsewhere)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "payout_not_found")
    assert (made_up.status_code, made_up.json()["code"]) == (404, "payout_not_found")
    assert await row_counts(world.sessions) == before
