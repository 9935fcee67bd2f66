"""What the fuzzer starts from, made over the API as a platform makes it: a platform of its own, an admin key
bound to it (the fuzzer's credentials: it may call every operation, and everything it creates lands in that
platform), parties with funded wallets, holds, raw ledger accounts with a pending transfer, collections (one
waiting for its OTP) and a payout through the sandbox, a certified merchant and a mandate, a token of one
party, a webhook endpoint with its deliveries, and what only the system makes (an alert, a failed inbound
webhook event). Their ids seed the fuzzer's dictionaries, so that operations on an existing object are reached
with real ids from the first case on, not only through the links schemathesis follows from what it creates
itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import clock, db
from sika.outbound import service as outbound_service
from tests.support.factories import PartyWallet, failed_payout_event, funded_wallet, party_headers, top_up
from tests.support.payments import OTP, SUCCESS_PHONE, collection_body, mobile_money, payer, payout_body
from tests.support.proofs import sent_proof

Headers = dict[str, str]
Sessions = async_sessionmaker[AsyncSession]

FUNDS_MINOR = 1_000_000_000
"""Enough that the fuzzer's holds, captures and payouts are refused for their
own reasons, never for want of money."""
HOLDS = 4
"""Open holds to begin with: the first capture or release of one closes it for the rest of the run."""


@dataclass
class World:
    platform_id: str
    admin: Headers
    """An admin key bound to the platform: the fuzzer's credentials."""
    party_token: Headers
    """A token of the first party, for the operations a party may call."""
    ids: dict[str, list[str]] = field(default_factory=dict)
    """Real values by the name of the parameter that takes them (``party_id``, ``wallet_id``, …, the
    ``currency`` of the world's wallets and accounts, the sandbox's ``otp``)."""

    def add(self, name: str, value: Any) -> None:
        self.ids.setdefault(name, []).append(str(value))


async def _made(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), f"{path}: {response.text}"
    created: dict[str, Any] = response.json()
    return created


async def _ledger(client: httpx.AsyncClient, world: World) -> None:
    """Two raw accounts, a posted and a pending transfer between them."""
    source = await _made(client, "/v1/ledger/accounts", {"currency": "XOF", "kind": "world"}, world.admin)
    target = await _made(client, "/v1/ledger/accounts", {"currency": "XOF", "kind": "escrow"}, world.admin)
    transfer = {"debit_account_id": source["id"], "credit_account_id": target["id"], "currency": "XOF", "code": "t"}
    posted = await _made(client, "/v1/ledger/transfers", {**transfer, "amount_minor": 900}, world.admin)
    pending = await _made(
        client, "/v1/ledger/transfers", {**transfer, "amount_minor": 700, "pending": True}, world.admin
    )
    for account in (source, target):
        world.add("account_id", account["id"])
    for made in (posted, pending):
        world.add("transfer_id", made["id"])


async def _transfer(client: httpx.AsyncClient, world: World, sender: PartyWallet, recipient: PartyWallet) -> None:
    """A transfer between the two parties, the recipient on the sender's allowlist and certified."""
    await _made(
        client, f"/v1/parties/{sender.party_id}/allowlist", {"recipient_party_id": recipient.party_id}, world.admin
    )
    await _made(client, f"/v1/parties/{recipient.party_id}/certification", {"level": 1, "reason": "fuzz"}, world.admin)
    body = {"source_wallet_id": sender.wallet_id, "destination_wallet_id": recipient.wallet_id, "amount_minor": 500}
    world.add("party_transfer_id", (await _made(client, "/v1/transfers", body, world.admin))["id"])
    world.add("recipient_party_id", recipient.party_id)


async def _payments(client: httpx.AsyncClient, world: World, who: PartyWallet) -> str:
    """Collections through the sandbox, one of them waiting for its OTP (Orange Money), and a
    payout (which holds its amount); returns the payout's id."""
    for operator in ("mtn", "orange"):
        body = collection_body(who, amount_minor=5_000, method=mobile_money(operator))
        world.add("collection_id", (await _made(client, "/v1/collections", body, world.admin))["id"])
    world.add("otp", OTP)
    payout = await _made(client, "/v1/payouts", payout_body(who, amount_minor=2_000, phone=SUCCESS_PHONE), world.admin)
    world.add("payout_id", payout["id"])
    return str(payout["id"])


async def _mandate(client: httpx.AsyncClient, world: World, sender: PartyWallet, merchant: PartyWallet) -> None:
    """A spend category, a certified merchant in it, and an active mandate from ``sender`` allowing it."""
    labels = {"code": "school", "label_en": "School", "label_fr": "École"}
    category = await _made(client, "/v1/spend-categories", labels, world.admin)
    shop = await _made(
        client, "/v1/merchants", {"party_id": merchant.party_id, "category_id": category["id"]}, world.admin
    )
    await _made(client, f"/v1/merchants/{shop['id']}/certify", {}, world.admin)
    beneficiary = await _made(
        client, "/v1/parties", {"display_name": "Kofi Élève", "type": "individual", "country": "CI"}, world.admin
    )
    body = {
        "sender_party_id": sender.party_id,
        "beneficiary_party_id": beneficiary["id"],
        "currency": "XOF",
        "amount_minor": 100_000,
        "allowed_category_ids": [category["id"]],
        "expires_at": "2100-01-01T00:00:00Z",
    }
    mandate = await _made(client, "/v1/mandates", body, world.admin)
    world.add("mandate_id", mandate["id"])
    world.add("merchant_id", shop["id"])


async def _operator_objects(sessions: Sessions, world: World, payout_id: str) -> None:
    """What only the system makes, written as it writes them: an alert about the platform's
    payout, and an inbound webhook event about it whose processing failed (so it may be retried)."""
    now = clock.now()
    async with db.transaction(sessions) as session:
        alert = await alerts_service.raise_alert(
            session,
            kind="fuzz.world",
            message="About the fuzz platform's payout.",
            entity_type="payout",
            entity_id=payout_id,
            platform_id=world.platform_id,
        )
        event = failed_payout_event(payout_id, platform_id=world.platform_id, now=now)
        session.add(event)
    world.add("alert_id", alert.id)
    world.add("event_id", event.id)


async def world(client: httpx.AsyncClient, global_admin: Headers, sessions: Sessions) -> World:
    platform = await _made(client, "/v1/platforms", {"name": "Fuzz market", "default_currency": "XOF"}, global_admin)
    key = await _made(
        client,
        "/v1/api-keys",
        {"name": "fuzzer", "scopes": ["admin"], "platform_id": platform["id"]},
        global_admin,
    )
    admin = {"Authorization": f"Bearer {key['secret']}"}
    first = await payer(client, admin)
    await top_up(client, admin, first.wallet_id, FUNDS_MINOR)
    second = await funded_wallet(client, admin, admin, FUNDS_MINOR, display_name="Aminata Koné", country="CI")
    found = World(
        platform_id=platform["id"], admin=admin, party_token=await party_headers(client, admin, first.party_id)
    )
    found.add("platform_id", platform["id"])
    for who in (first, second):
        found.add("party_id", who.party_id)
        found.add("wallet_id", who.wallet_id)
    for _ in range(HOLDS):
        hold = await _made(
            client, f"/v1/wallets/{first.wallet_id}/holds", {"amount_minor": 1_000, "reason": "x"}, admin
        )
        found.add("hold_id", hold["id"])
    found.add("currency", "XOF")
    await _transfer(client, found, first, second)
    await _ledger(client, found)
    await _mandate(client, found, first, second)
    endpoint = await _made(client, "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/fuzz"}, admin)
    found.add("endpoint_id", endpoint["id"])
    promo = await _made(client, "/v1/promo-codes", {"code": "FUZZ10", "percent_off_bps": 1_000}, admin)
    found.add("promo_code_id", promo["id"])
    plan = {
        "payer_party_id": first.party_id,
        "payee_party_id": second.party_id,
        "currency": "XOF",
        "total_minor": 2_000,
        "schedule": {"count": 2, "first_due_on": "2100-01-01", "interval_months": 1},
    }
    made = await _made(client, "/v1/instalment-plans", plan, admin)
    found.add("plan_id", made["id"])
    for instalment in made["instalments"]:
        found.add("instalment_id", instalment["id"])
    await _operator_objects(sessions, found, await _payments(client, found, first))
    await _proof(client, found, first, second)
    await _delivery(sessions, found, endpoint["id"])
    return found


async def _proof(client: httpx.AsyncClient, world: World, payer: PartyWallet, payee: PartyWallet) -> None:
    """An escrow from ``payer`` to ``payee``, funded and its milestone delivered, with a proof waiting for review."""
    body = {
        "client_party_id": payer.party_id,
        "beneficiary_party_id": payee.party_id,
        "currency": "XOF",
        "amount_minor": 1_000,
        "milestones": [{"title": "site", "amount_minor": 1_000}],
    }
    escrow = await _made(client, "/v1/escrows", body, world.admin)
    for step in ("fund", "milestones/1/deliver"):
        response = await client.post(f"/v1/escrows/{escrow['id']}/{step}", json={}, headers=world.admin)
        assert response.status_code == 200, response.text
    world.add("escrow_id", escrow["id"])
    world.add("proof_id", await sent_proof(client, world.admin, escrow["id"]))


async def _delivery(sessions: Sessions, world: World, endpoint_id: str) -> None:
    """The endpoint's deliveries of the platform's events, fanned out as the pump does."""
    async with db.transaction(sessions) as session:
        await outbound_service.fan_out(session, now=clock.now())
    async with sessions() as session:
        found = await session.scalars(
            sa.text("SELECT id FROM outbound_deliveries WHERE endpoint_id = :id"), {"id": endpoint_id}
        )
        for delivery_id in found:
            world.add("delivery_id", delivery_id)
