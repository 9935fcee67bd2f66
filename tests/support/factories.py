"""Parties, wallets and money for a test to start from, made in one place as
the platform makes them: over the HTTP API (a platform key opens, an admin key
tops up, a party token acts as its party), or through the services at a chosen
time for tests that need data dated in advance. Each HTTP step asserts it was
accepted, so a test shows only what it is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids
from sika.core.context import Actor
from sika.parties import schemas as parties_schemas
from sika.parties import service as parties_service
from sika.parties.models import Party
from sika.wallets import service as wallets_service
from sika.wallets.models import Wallet
from sika.webhooks.models import InboundEvent
from tests.conftest import TEST_ACTOR


@dataclass(frozen=True)
class PartyWallet:
    """A party and its wallet, as the API answered them."""

    party: dict[str, Any]
    wallet: dict[str, Any]

    @property
    def party_id(self) -> str:
        return str(self.party["id"])

    @property
    def wallet_id(self) -> str:
        return str(self.wallet["id"])


@dataclass(frozen=True)
class Owner(PartyWallet):
    """A party and its wallet, and a party token to act as that party."""

    headers: dict[str, str]
    """Authorization headers carrying the party token."""


async def create_party(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """An individual in Senegal with an email and a phone, unless ``overrides`` say otherwise."""
    body: dict[str, Any] = {
        "display_name": "Awa Diallo",
        "type": "individual",
        "country": "SN",
        "email": "awa@example.sn",
        "phone": "+221770000001",
        **overrides,
    }
    response = await client.post("/v1/parties", json=body, headers=headers)
    assert response.status_code == 201, response.text
    party: dict[str, Any] = response.json()
    return party


async def party_headers(client: httpx.AsyncClient, headers: dict[str, str], party_id: str) -> dict[str, str]:
    """Authorization headers carrying a fresh token for ``party_id``, minted with ``headers``' key."""
    response = await client.post(f"/v1/parties/{party_id}/tokens", json={}, headers=headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def open_wallet(
    client: httpx.AsyncClient, headers: dict[str, str], party_id: str, currency: str = "XOF"
) -> dict[str, Any]:
    response = await client.post(f"/v1/parties/{party_id}/wallets", json={"currency": currency}, headers=headers)
    assert response.status_code == 201, response.text
    wallet: dict[str, Any] = response.json()
    return wallet


async def top_up(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    wallet_id: str,
    amount_minor: int,
    *,
    reference: str | None = None,
) -> dict[str, Any]:
    """Credit the wallet from its currency's funding account (an admin key's privilege)."""
    body: dict[str, Any] = {"amount_minor": amount_minor}
    if reference is not None:
        body["reference"] = reference
    response = await client.post(f"/v1/wallets/{wallet_id}/top-ups", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    done: dict[str, Any] = response.json()
    return done


async def party_with_wallet(
    client: httpx.AsyncClient, headers: dict[str, str], *, currency: str = "XOF", **party: Any
) -> PartyWallet:
    """A party (``party`` overriding ``create_party``'s defaults) and its empty wallet in ``currency``."""
    created = await create_party(client, headers, **party)
    return PartyWallet(party=created, wallet=await open_wallet(client, headers, created["id"], currency))


async def funded_wallet(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    admin_headers: dict[str, str],
    amount_minor: int,
    *,
    currency: str = "XOF",
    **party: Any,
) -> PartyWallet:
    """A party and its wallet in ``currency``, topped up with ``amount_minor``."""
    made = await party_with_wallet(client, headers, currency=currency, **party)
    await top_up(client, admin_headers, made.wallet_id, amount_minor)
    return made


async def owner(client: httpx.AsyncClient, headers: dict[str, str], *, currency: str = "XOF", **party: Any) -> Owner:
    """A party, its empty wallet in ``currency`` and a token of its own."""
    made = await party_with_wallet(client, headers, currency=currency, **party)
    return Owner(party=made.party, wallet=made.wallet, headers=await party_headers(client, headers, made.party_id))


async def funded_wallet_in(
    session: AsyncSession,
    *,
    amount_minor: int,
    now: datetime,
    display_name: str,
    country: str,
    email: str | None = None,
    currency: str = "XOF",
    actor: Actor = TEST_ACTOR,
) -> tuple[Party, Wallet]:
    """Through the services, in ``session``, all at ``now``: an individual, its wallet
    in ``currency``, and a top-up of ``amount_minor``."""
    party = await parties_service.create_party(
        session,
        body=parties_schemas.PartyCreate(
            display_name=display_name, type=parties_schemas.PartyType.individual, country=country, email=email
        ),
        actor=actor,
        now=now,
    )
    opened = await wallets_service.open_wallet(session, party_id=party.id, currency=currency, actor=actor, now=now)
    await wallets_service.top_up(
        session,
        wallet_id=opened.wallet.id,
        amount_minor=amount_minor,
        reference=None,
        reason="test funding",
        actor=actor,
        now=now,
    )
    return party, opened.wallet


def failed_payout_event(payout_id: str, *, platform_id: str, now: datetime) -> InboundEvent:
    """A Paystack ``transfer.failed`` webhook about ``payout_id`` that failed its three
    processing attempts: a row for the webhooks' retry route and the lists to find."""
    return InboundEvent(
        id=ids.new_id("whe"),
        provider="paystack",
        event_id=f"evt-{payout_id}",
        event_type="transfer.failed",
        body=b"{}",
        status="failed",
        subject="payout",
        reference=payout_id,
        platform_id=platform_id,
        attempts=3,
        received_at=now,
        processed_at=now,
    )
