"""Two platforms side by side, A and B, each created by a global admin key, for
the tests that prove one never reaches the other: B holds an object of every
kind the API can name (a party, wallets, money, a hold, a payout owning its
hold, a collection, raw ledger accounts with a posted and a pending transfer, a
key, an alert, a domain event, a matched webhook event, audit rows, a webhook
endpoint with a delivery), and A has the three kinds of caller bound to it (its
platform key, its own support key, a party token) plus a funded wallet and
ledger accounts of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import clock, db, ids
from sika.core.context import Actor
from sika.outbound import service as outbound_service
from sika.payments.models import Collection, Payout
from sika.payments.service import flow
from sika.payments.service import payouts as payouts_service
from sika.wallets import service as wallets_service
from sika.wallets.service.wallets import FUNDING_ACCOUNT_KIND
from tests.support.factories import PartyWallet, failed_payout_event, funded_wallet, party_headers, party_with_wallet
from tests.support.payments import SUCCESS_PHONE
from tests.support.proofs import sent_proof

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]


@dataclass(frozen=True)
class Side:
    """One platform's keys and the things it owns, by the name of the path
    parameter (``party_id``, ``wallet_id``, …) that would name each."""

    platform_id: str
    platform: Headers
    """Headers of its platform key."""
    ids: dict[str, str]
    more: dict[str, str]
    """Further objects of a kind ``ids`` already names (a second wallet, account, a
    hold used as a transfer id), walked too: every object B owns is tried."""

    def every_id(self) -> set[str]:
        return {*self.ids.values(), *self.more.values()}


@dataclass(frozen=True)
class TwoPlatforms:
    a: Side
    b: Side
    callers: dict[str, Headers]
    """A's callers by name: its platform key, its support key, a token of one of its parties."""
    admin: Headers
    """A global admin key (bound to no platform)."""
    system: dict[str, str]
    """Objects of no platform, which no platform's caller may reach either: the
    funding account top-ups are drawn from."""

    def foreign(self) -> dict[str, str]:
        """What A's callers must not reach, by kind: B's objects and the installation's."""
        return {**self.b.ids, **self.b.more, **self.system}


async def _made(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, f"{path}: {response.text}"
    created: dict[str, Any] = response.json()
    return created


async def _key(client: httpx.AsyncClient, admin: Headers, platform_id: str, *scopes: str) -> Headers:
    """Headers of a new key bound to ``platform_id``, made over the API by the global admin."""
    body = {"name": f"{platform_id} {'+'.join(scopes)}", "scopes": list(scopes), "platform_id": platform_id}
    created = await _made(client, "/v1/api-keys", body, admin)
    return {"Authorization": f"Bearer {created['secret']}"}


async def _ledger(client: httpx.AsyncClient, platform: Headers) -> dict[str, str]:
    """Two raw accounts of the platform, a posted and a pending transfer between them."""
    source = await _made(client, "/v1/ledger/accounts", {"currency": "XOF", "kind": "world"}, platform)
    target = await _made(client, "/v1/ledger/accounts", {"currency": "XOF", "kind": "escrow"}, platform)
    transfer = {"debit_account_id": source["id"], "credit_account_id": target["id"], "currency": "XOF"}
    posted = await _made(client, "/v1/ledger/transfers", {**transfer, "amount_minor": 900, "code": "t"}, platform)
    pending = await _made(
        client, "/v1/ledger/transfers", {**transfer, "amount_minor": 700, "code": "t", "pending": True}, platform
    )
    return {"source": source["id"], "target": target["id"], "posted": posted["id"], "pending": pending["id"]}


async def _side(client: httpx.AsyncClient, admin: Headers, name: str) -> tuple[Side, PartyWallet]:
    """A platform made over the API with its key, a funded party with an open hold, raw ledger accounts."""
    platform = await _made(client, "/v1/platforms", {"name": name, "default_currency": "XOF"}, admin)
    headers = await _key(client, admin, platform["id"], "platform")
    funded = await funded_wallet(client, headers, admin, 50_000, display_name=f"{name} payer")
    hold = await _made(client, f"/v1/wallets/{funded.wallet_id}/holds", {"amount_minor": 1_000, "reason": "x"}, headers)
    second = await _made(client, f"/v1/parties/{funded.party_id}/wallets", {"currency": "GHS"}, headers)
    ledger = await _ledger(client, headers)
    escrow = await _escrow(client, headers, funded)
    mandate = await _mandate(client, headers, funded)
    payee, transfer = await _transfer(client, headers, admin, funded)
    rule = await client.post(f"/v1/escrows/{escrow}/milestones/1/proof-rule", json={"required": True}, headers=headers)
    assert rule.status_code == 200, rule.text
    proof = await sent_proof(client, headers, escrow)
    plan = await _instalment_plan(client, headers, funded, payee)
    promo = await _made(client, "/v1/promo-codes", {"code": "WELCOME10", "percent_off_bps": 1_000}, headers)
    ids_ = {
        "platform_id": platform["id"],
        "party_id": funded.party_id,
        "wallet_id": funded.wallet_id,
        "hold_id": hold["id"],
        "account_id": ledger["source"],
        "transfer_id": ledger["pending"],
        "escrow_id": escrow,
        "mandate_id": mandate["mandate_id"],
        "merchant_id": mandate["merchant_id"],
        "recipient_party_id": payee,
        "party_transfer_id": transfer,
        "proof_id": proof,
        "plan_id": plan["id"],
        "instalment_id": plan["instalments"][0]["id"],
        "promo_code_id": promo["id"],
    }
    more = {"second_wallet": second["id"], "target_account": ledger["target"], "posted_transfer": ledger["posted"]}
    more.update(category_id=mandate["category_id"], payee_id=mandate["payee_id"])
    return Side(platform_id=platform["id"], platform=headers, ids=ids_, more=more), funded


async def _instalment_plan(client: httpx.AsyncClient, platform: Headers, payer: PartyWallet, payee: str) -> Any:
    """A plan of two instalments from ``payer`` to ``payee``."""
    body = {
        "payer_party_id": payer.party_id,
        "payee_party_id": payee,
        "currency": "XOF",
        "total_minor": 2_000,
        "instalments": [
            {"due_on": "2100-01-01", "amount_minor": 1_000},
            {"due_on": "2100-02-01", "amount_minor": 1_000},
        ],
    }
    return await _made(client, "/v1/instalment-plans", body, platform)


async def _mandate(client: httpx.AsyncClient, platform: Headers, sender: PartyWallet) -> dict[str, str]:
    """A spend category, a merchant in it, and a mandate from ``sender`` to a new party
    allowing that merchant, with a payee; their ids."""
    category = await _made(
        client, "/v1/spend-categories", {"code": "school", "label_en": "School", "label_fr": "École"}, platform
    )
    shop = await party_with_wallet(client, platform, display_name="Mandate merchant", type="business")
    merchant = await _made(
        client, "/v1/merchants", {"party_id": shop.party_id, "category_id": category["id"]}, platform
    )
    child = await party_with_wallet(client, platform, display_name="Mandate beneficiary")
    landlord = await party_with_wallet(client, platform, display_name="Mandate payee")
    body = {
        "sender_party_id": sender.party_id,
        "beneficiary_party_id": child.party_id,
        "currency": "XOF",
        "amount_minor": 2_000,
        "allowed_merchant_ids": [merchant["id"]],
        "certified_only": False,
        "expires_at": "2100-01-01T00:00:00Z",
    }
    mandate = await _made(client, "/v1/mandates", body, platform)
    payee = {"party_id": landlord.party_id, "daily_limit_minor": 1_000}
    named = await _made(client, f"/v1/mandates/{mandate['id']}/payees", payee, platform)
    return {
        "mandate_id": mandate["id"],
        "merchant_id": merchant["id"],
        "category_id": category["id"],
        "payee_id": named["payees"][0]["id"],
    }


async def _escrow(client: httpx.AsyncClient, platform: Headers, payer: PartyWallet) -> str:
    """A funded escrow of two milestones from ``payer`` to a new party, the first delivered."""
    payee = await party_with_wallet(client, platform, display_name="Escrow payee")
    body = {
        "client_party_id": payer.party_id,
        "beneficiary_party_id": payee.party_id,
        "currency": "XOF",
        "amount_minor": 3_000,
        "milestones": [{"title": "first", "amount_minor": 2_000}, {"title": "second", "amount_minor": 1_000}],
    }
    escrow = await _made(client, "/v1/escrows", body, platform)
    for step in ("fund", "milestones/1/deliver"):
        response = await client.post(f"/v1/escrows/{escrow['id']}/{step}", json={}, headers=platform)
        assert response.status_code == 200, response.text
    escrow_id: str = escrow["id"]
    return escrow_id


async def _transfer(
    client: httpx.AsyncClient, platform: Headers, admin: Headers, payer: PartyWallet
) -> tuple[str, str]:
    """A new party on ``payer``'s allowlist, certified, and a transfer to it: (its id, the transfer's id)."""
    payee = await party_with_wallet(client, platform, display_name="Transfer payee")
    await _made(client, f"/v1/parties/{payer.party_id}/allowlist", {"recipient_party_id": payee.party_id}, platform)
    await _made(client, f"/v1/parties/{payee.party_id}/certification", {"level": 1, "reason": "checked"}, admin)
    body = {"source_wallet_id": payer.wallet_id, "destination_wallet_id": payee.wallet_id, "amount_minor": 500}
    transfer = await _made(client, "/v1/transfers", body, platform)
    return payee.party_id, str(transfer["id"])


def _rows(
    who: PartyWallet, platform_id: str, *, payout_id: str, hold_id: str, actor: Actor
) -> tuple[Collection, Payout]:
    """A collection and a payout (owning the hold ``hold_id``) as their first phase writes them."""
    now = clock.now()
    common = {"party_id": who.party_id, "platform_id": platform_id, "wallet_id": who.wallet_id}
    money = {"currency": "XOF", "operator": "mtn", "phone": SUCCESS_PHONE, "country": "CI", "status": "initiated"}
    made = {"created_by": actor.id, "created_at": now, "updated_at": now}
    collection = Collection(
        id=ids.new_id("col"),
        **common,
        **money,
        **made,
        amount_minor=3_000,
        method="mobile_money",
        customer_email="b@example.ci",
        description="",
    )
    payout = Payout(
        id=payout_id,
        **common,
        **money,
        **made,
        amount_minor=2_000,
        recipient_name="B recipient",
        reason="",
        provider="paystack",
        hold_id=hold_id,
    )
    return collection, payout


async def _payments(sessions: Sessions, side: Side, who: PartyWallet) -> dict[str, str]:
    """B's collection and payout (no provider is called in these tests), each with
    its event and audit row, the payout owning a hold; a webhook event matched to
    the payout, whose processing failed (so it could be retried); an alert."""
    now = clock.now()
    actor = Actor(id="test:platform-b", scopes=frozenset({"platform"}), platform_id=side.platform_id)
    payout_id = ids.new_id("po")
    async with db.transaction(sessions) as session:
        hold = await wallets_service.place_hold(
            session,
            wallet_id=who.wallet_id,
            amount_minor=2_000,
            reason="payout",
            reference=payout_id,
            expires_in_seconds=None,
            owner=payouts_service.hold_owner(payout_id),
            actor=actor,
            now=now,
        )
        collection, payout = _rows(who, side.platform_id, payout_id=payout_id, hold_id=hold.pending.id, actor=actor)
        for row, kind in ((collection, "collection"), (payout, "payout")):
            session.add(row)
            await flow.announce(session, row, kind, shown={"id": row.id}, now=now, actor=actor, data={})
        event = failed_payout_event(payout_id, platform_id=side.platform_id, now=now)
        session.add(event)
        alert = await alerts_service.raise_alert(
            session,
            kind="test.tenancy",
            message="About B's collection.",
            entity_type="collection",
            entity_id=collection.id,
            platform_id=side.platform_id,
        )
    return {
        "collection_id": collection.id,
        "payout_id": payout_id,
        "payout_hold": hold.pending.id,
        "event_id": event.id,
        "alert_id": alert.id,
    }


async def two_platforms(client: httpx.AsyncClient, admin: Headers, sessions: Sessions) -> TwoPlatforms:
    a, a_funded = await _side(client, admin, "Platform A")
    b, b_funded = await _side(client, admin, "Platform B")
    b_key = await _made(
        client, "/v1/api-keys", {"name": "B read", "scopes": ["read"], "platform_id": b.platform_id}, admin
    )
    b_endpoint = await _made(client, "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/b"}, b.platform)
    paid = await _payments(sessions, b, b_funded)
    b.ids.update(endpoint_id=b_endpoint["id"], delivery_id=await _delivery(sessions, b_endpoint["id"]))
    b.ids.update(key_id=b_key["id"], collection_id=paid["collection_id"], payout_id=paid["payout_id"])
    b.ids.update(event_id=paid["event_id"], alert_id=paid["alert_id"])
    b.more.update(payout_hold=paid["payout_hold"], **await _wallet_accounts(sessions, b.ids["wallet_id"]))
    callers = {
        "A's platform key": a.platform,
        "A's support key": await _key(client, admin, a.platform_id, "support", "read"),
        "A's admin key": await _key(client, admin, a.platform_id, "admin"),
        "a token of A's party": await party_headers(client, a.platform, a_funded.party_id),
    }
    return TwoPlatforms(a=a, b=b, callers=callers, admin=admin, system=await _system(sessions))


async def _delivery(sessions: Sessions, endpoint_id: str) -> str:
    """A delivery to B's endpoint of one of B's events (fanned out as the pump does)."""
    async with db.transaction(sessions) as session:
        await outbound_service.fan_out(session, now=clock.now())
    async with sessions() as session:
        delivery = await session.scalar(
            sa.text("SELECT id FROM outbound_deliveries WHERE endpoint_id = :id LIMIT 1"), {"id": endpoint_id}
        )
    assert isinstance(delivery, str)
    return delivery


async def _wallet_accounts(sessions: Sessions, wallet_id: str) -> dict[str, str]:
    """The ledger accounts under a wallet, which the raw ledger API could name."""
    async with sessions() as session:
        row = (
            await session.execute(
                sa.text("SELECT account_id, holds_account_id FROM wallets WHERE id = :id"), {"id": wallet_id}
            )
        ).one()
    return {"wallet_account": row[0], "wallet_holds_account": row[1]}


async def _system(sessions: Sessions) -> dict[str, str]:
    async with sessions() as session:
        funding = await session.scalar(
            sa.text("SELECT id FROM ledger_accounts WHERE platform_id IS NULL AND kind = :kind AND currency = 'XOF'"),
            {"kind": FUNDING_ACCOUNT_KIND},
        )
    assert isinstance(funding, str)
    return {"funding_account": funding}
