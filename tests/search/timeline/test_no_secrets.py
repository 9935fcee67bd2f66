"""No timeline shows a secret, in JSON or on its dashboard page: after a mobile-money
collection paid with an OTP, a card collection and a payout went through the sandbox
(their provider calls recorded), every timeline kind (collection, payout, hold, wallet,
party) and every object page is scanned for the providers' keys and webhook secrets, the
API keys used, the webhooks' signatures and bodies, the card token, authorization codes,
the OTP and the phone number paid out to."""

from __future__ import annotations

import html
import re

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.dashboard.conftest import DASHBOARD, sign_in
from tests.support.factories import PartyWallet
from tests.support.payments import OTP, World, collection_body, mobile_money, payout_body
from tests.support.sandbox import Received

AMOUNT = 5_000
CARD_TOKEN = "pm_card_visa"
PAYOUT_PHONE = "+2250700000102"
"""Not the collections' number: a payout's destination must not show either."""


async def _everything_once(world: World, kofi: PartyWallet) -> tuple[dict[str, str], list[Received]]:
    """The ids of one object of each kind, and the webhooks the sandbox sent."""
    orange = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
    assert orange.status_code == 201, orange.text
    otp = await world.client.post(
        f"/v1/collections/{orange.json()['id']}/otp", json={"otp": OTP}, headers=world.platform
    )
    assert otp.json()["status"] == "succeeded", otp.text
    card = await world.collect(
        collection_body(kofi, amount_minor=AMOUNT, method={"type": "card", "card_token": CARD_TOKEN})
    )
    assert card.json()["status"] == "succeeded", card.text
    payout = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone=PAYOUT_PHONE))
    assert payout.status_code == 201, payout.text
    webhooks = await world.deliver(3)
    await world.run_jobs()
    ids = {
        "collections": orange.json()["id"],
        "collections ": card.json()["id"],
        "payouts": payout.json()["id"],
        "holds": payout.json()["hold_id"],
        "wallets": kofi.wallet_id,
        "parties": kofi.party_id,
    }
    return ids, webhooks


def _secrets(world: World, support: dict[str, str], webhooks: list[Received]) -> list[str]:
    secrets = [
        value.get_secret_value()
        for value in world.settings.model_dump().values()
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 8
    ]
    assert len(secrets) >= 3, "the provider keys and webhook secrets are configured"
    secrets += [world.platform["Authorization"].split()[1], support["Authorization"].split()[1], CARD_TOKEN]
    secrets += [PAYOUT_PHONE, PAYOUT_PHONE.removeprefix("+"), "AUTH_"]
    for webhook in webhooks:
        secrets += [value for name, value in webhook.headers.items() if "signature" in name]
        secrets.append(webhook.body.decode())
    return secrets


def _leaks(page: str, secrets: list[str]) -> list[str]:
    text = html.unescape(page)
    found = [secret for secret in secrets if secret in text]
    # The OTP as a value of its own (a timestamp's microseconds may read 123456 after a dot).
    found += re.findall(rf"(?<![\d.]){OTP}(?!\d)", text)
    # Stripe's client secrets (their field's name may show, its value redacted).
    found += re.findall(r"pi_\w+_secret_\w+", text)
    # A field that holds one may be named (Paystack's recipient has an ``authorization_code``), never its value.
    return found + re.findall(r'"(?:authorization_code|card_token|otp)"\s*:(?!\s*"\[redacted\]")[^,}]+', text)


async def test_no_timeline_and_no_object_page_shows_a_secret(world: World, kofi: PartyWallet) -> None:
    await world.top_up(kofi, 10 * AMOUNT)
    ids, webhooks = await _everything_once(world, kofi)
    secret = await make_key(world.sessions, Scope.support)
    support = {"Authorization": f"Bearer {secret}"}
    secrets = _secrets(world, support, webhooks)
    async with world.sessions() as session:
        recorded = await session.scalar(sa.text("SELECT count(*) FROM payments_provider_calls"))
    assert recorded >= 3, "the charge, the OTP, the card and the payout calls were recorded"
    scanned = 0
    for kind, object_id in ids.items():
        timeline = await world.client.get(f"/v1/{kind.strip()}/{object_id}/timeline", headers=support)
        assert timeline.status_code == 200, timeline.text
        assert len(timeline.json()["entries"]) >= 2, kind
        assert _leaks(timeline.text, secrets) == [], kind
        scanned += "provider_call" in timeline.text
    assert scanned >= 3, "the provider calls are in the collections' and the payout's timelines"

    dashboard = httpx.AsyncClient(transport=world.client._transport, base_url=str(world.client.base_url))
    async with dashboard:
        assert (await sign_in(dashboard, secret)).status_code == 303
        for kind, object_id in ids.items():
            page = await dashboard.get(f"{DASHBOARD}/{kind.strip()}/{object_id}")
            assert page.status_code == 200, (kind, page.text[:500])
            assert _leaks(page.text, secrets) == [], kind
