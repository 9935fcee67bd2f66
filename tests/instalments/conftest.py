"""Instalment tests start from one platform with a payer and a payee, each with a wallet
and a token of its own, and the keys that act on plans: the platform's and support's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db, invariants
from tests.conftest import make_key
from tests.support.factories import Owner, owner
from tests.support.reads import events_of as events_of
from tests.support.reads import scalar as scalar

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]


@dataclass(frozen=True)
class Cast:
    payer: Owner
    payee: Owner
    platform: Headers
    support: Headers


@pytest.fixture
async def cast(client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions) -> Cast:
    return await cast_in(client, platform_headers, sessions, currency="XOF")


async def cast_in(client: httpx.AsyncClient, platform: Headers, sessions: Sessions, *, currency: str) -> Cast:
    return Cast(
        payer=await owner(
            client, platform, currency=currency, display_name="Awa Payer", email="awa@example.ci", country="CI"
        ),
        payee=await owner(client, platform, currency=currency, display_name="Kofi School", phone="+221770000002"),
        platform=platform,
        support={"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"},
    )


def today() -> date:
    return clock.now().date()


def plan_body(
    cast: Cast, *amounts: int, currency: str = "XOF", to_party: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A plan of the cast's payer, one instalment per amount, monthly from today."""
    amounts = amounts or (5_000, 3_000, 2_000)
    return {
        "payer_party_id": cast.payer.party_id,
        **({"payee_party_id": cast.payee.party_id} if to_party else {}),
        "currency": currency,
        "total_minor": sum(amounts),
        "instalments": [
            {"due_on": (today() + timedelta(days=30 * n)).isoformat(), "amount_minor": a} for n, a in enumerate(amounts)
        ],
        **overrides,
    }


async def create_plan(client: httpx.AsyncClient, cast: Cast, *amounts: int, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/instalment-plans", json=plan_body(cast, *amounts, **overrides), headers=cast.platform
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def pay(
    client: httpx.AsyncClient, instalment_id: str, headers: Headers, key: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(
        f"/v1/instalments/{instalment_id}/pay", json=body or {}, headers={**headers, "Idempotency-Key": key}
    )


async def assert_invariants_hold(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]
