"""Mandate tests start from one platform with a sender (funded), a beneficiary, a
third party and a payee, each with a wallet and a token of its own; a catalogue of
two categories with a certified school and an uncertified pharmacy; and the keys
that act on mandates: the platform's, an operator's (support) and an admin's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from tests.conftest import make_key
from tests.support.factories import Owner, owner, top_up
from tests.support.reads import available as available
from tests.support.reads import events_of as events_of
from tests.support.reads import scalar as scalar
from tests.support.reads import sika_check as sika_check
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]
SENDER_FUNDS = 100_000


@dataclass(frozen=True)
class Cast:
    sender: Owner
    beneficiary: Owner
    other: Owner
    """A third party of the same platform, in no mandate."""
    payee: Owner
    school: dict[str, Any]
    """A certified merchant in the ``school`` category."""
    pharmacy: dict[str, Any]
    """A merchant in the ``pharmacy`` category, not certified."""
    school_owner: Owner
    pharmacy_owner: Owner
    categories: dict[str, str]
    """Category code → id."""
    platform: Headers
    support: Headers
    admin: Headers


async def made(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture
async def cast(
    client: httpx.AsyncClient, admin_headers: Headers, platform_headers: Headers, sessions: Sessions
) -> Cast:
    sender = await owner(client, platform_headers, display_name="Awa Sender")
    await top_up(client, admin_headers, sender.wallet_id, SENDER_FUNDS)
    support = {"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"}
    categories = {}
    for code, en, fr in (("school", "School fees", "Frais de scolarité"), ("pharmacy", "Pharmacy", "Pharmacie")):
        body = {"code": code, "label_en": en, "label_fr": fr}
        categories[code] = (await made(client, "/v1/spend-categories", body, platform_headers))["id"]
    school_owner = await owner(client, platform_headers, display_name="Lycée Moderne", type="business")
    pharmacy_owner = await owner(client, platform_headers, display_name="Pharmacie du Plateau", type="business")
    school = await made(
        client,
        "/v1/merchants",
        {"party_id": school_owner.party_id, "category_id": categories["school"]},
        platform_headers,
    )
    school = await made(client, f"/v1/merchants/{school['id']}/certify", {}, support)
    pharmacy = await made(
        client,
        "/v1/merchants",
        {"party_id": pharmacy_owner.party_id, "category_id": categories["pharmacy"]},
        platform_headers,
    )
    return Cast(
        sender=sender,
        beneficiary=await owner(client, platform_headers, display_name="Kofi Student", phone="+221770000002"),
        other=await owner(client, platform_headers, display_name="Ama Other", phone="+221770000003"),
        payee=await owner(client, platform_headers, display_name="Yao Landlord", phone="+221770000004"),
        school=school,
        pharmacy=pharmacy,
        school_owner=school_owner,
        pharmacy_owner=pharmacy_owner,
        categories=categories,
        platform=platform_headers,
        support=support,
        admin=admin_headers,
    )


def mandate_body(cast: Cast, amount_minor: int = 20_000, **overrides: Any) -> dict[str, Any]:
    """A mandate of the cast's sender for its beneficiary, good for school fees, for a week."""
    return {
        "sender_party_id": cast.sender.party_id,
        "beneficiary_party_id": cast.beneficiary.party_id,
        "currency": "XOF",
        "amount_minor": amount_minor,
        "allowed_category_ids": [cast.categories["school"]],
        "expires_at": (clock.now() + timedelta(days=7)).isoformat(),
        **overrides,
    }


async def create(client: httpx.AsyncClient, cast: Cast, amount_minor: int = 20_000, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/mandates", json=mandate_body(cast, amount_minor, **overrides), headers=cast.platform
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def act(
    client: httpx.AsyncClient, mandate: dict[str, Any], path: str, headers: Headers, body: Any = None
) -> httpx.Response:
    """POST ``/v1/mandates/{id}/<path>`` with ``headers``."""
    return await client.post(f"/v1/mandates/{mandate['id']}/{path}", json=body, headers=headers)
