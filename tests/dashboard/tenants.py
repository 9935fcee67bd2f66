"""Two platforms for the dashboard to keep apart, made through the services: each
with a party and its funded wallet, a stuck collection (against the PSP sandbox
over HTTP), an open alert about its party, and a fee earned by capturing a hold
(A and B earn different amounts, so each figure names its platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import db
from sika.core.config import Settings
from sika.core.phases import standalone
from sika.parties import schemas as parties_schemas
from sika.parties import service as parties_service
from sika.payments import service as payments_service
from sika.platforms import schemas as platforms_schemas
from sika.platforms import service as platforms_service
from sika.providers import failover
from sika.providers import registry as provider_registry
from sika.providers.base import MobileOperator
from sika.wallets import service as wallets_service
from tests.conftest import TEST_ACTOR
from tests.dashboard.world import SUCCESS_PHONE, stopped_at

TOP_UP_MINOR = 50_000
STUCK_DAYS_AGO = 2
"""Each collection is created this long before ``now``: stuck, and in the activity chart."""


@dataclass(frozen=True)
class Tenant:
    platform_id: str
    name: str
    party_id: str
    wallet_id: str
    collection_id: str
    alert_id: str
    alert_message: str
    fee_minor: int
    """What the platform earned: one hold captured whole to it."""


@dataclass(frozen=True)
class Tenants:
    a: Tenant
    b: Tenant


async def _tenant(
    sessions: async_sessionmaker[AsyncSession],
    providers: failover.CollectionRouter,
    *,
    name: str,
    person: str,
    email: str,
    fee_minor: int,
    now: datetime,
) -> Tenant:
    async with db.transaction(sessions) as session:
        platform = await platforms_service.create_platform(
            session,
            body=platforms_schemas.PlatformCreate(name=name, default_currency="XOF"),
            actor=TEST_ACTOR,
            now=now - timedelta(days=10),
        )
        party = await parties_service.create_party(
            session,
            body=parties_schemas.PartyCreate(
                display_name=person,
                type=parties_schemas.PartyType.individual,
                country="CI",
                email=email,
                platform_id=platform.id,
            ),
            actor=TEST_ACTOR,
            now=now - timedelta(days=10),
        )
        opened = await wallets_service.open_wallet(
            session, party_id=party.id, currency="XOF", actor=TEST_ACTOR, now=now - timedelta(days=10)
        )
        wallet_id = opened.wallet.id
        await wallets_service.top_up(
            session,
            wallet_id=wallet_id,
            amount_minor=TOP_UP_MINOR,
            reference=None,
            reason="test funding",
            actor=TEST_ACTOR,
            now=now - timedelta(days=10),
        )
        # A capture with no destination wallet pays the whole hold to the platform's fee account.
        hold = await wallets_service.place_hold(
            session,
            wallet_id=wallet_id,
            amount_minor=fee_minor,
            reason="service fee",
            reference=None,
            expires_in_seconds=None,
            owner=wallets_service.API_OWNER,
            actor=TEST_ACTOR,
            now=now - timedelta(days=5),
        )
        await wallets_service.capture_hold(
            session,
            hold_id=hold.pending.id,
            amount_minor=None,
            destination_wallet_id=None,
            platform_fee_minor=None,
            owner=wallets_service.API_OWNER,
            actor=TEST_ACTOR,
            now=now - timedelta(days=5),
        )
        message = f"{name}: the provider reported a surprise for {person}"
        alert = await alerts_service.raise_alert(
            session,
            kind="webhook.amount_mismatch",
            severity="critical",
            message=message,
            entity_type="party",
            entity_id=party.id,
            platform_id=platform.id,
        )
    async with standalone(sessions) as phases:
        collection = await payments_service.create_collection(
            phases,
            party_id=party.id,
            wallet_id=wallet_id,
            amount_minor=2_500,
            currency="XOF",
            method=payments_service.MobileMoney(operator=MobileOperator.mtn, phone=SUCCESS_PHONE),
            providers=providers,
            idempotency_key=None,
            actor=TEST_ACTOR,
            clock=stopped_at(now - timedelta(days=STUCK_DAYS_AGO)),
        )
    return Tenant(
        platform_id=platform.id,
        name=name,
        party_id=party.id,
        wallet_id=wallet_id,
        collection_id=collection.id,
        alert_id=alert.id,
        alert_message=message,
        fee_minor=fee_minor,
    )


async def build(sessions: async_sessionmaker[AsyncSession], *, provider_settings: Settings, now: datetime) -> Tenants:
    async with httpx.AsyncClient() as client:
        providers = provider_registry.build_router(provider_settings, client)
        a = await _tenant(
            sessions,
            providers,
            name="Marché Abidjan",
            person="Awa Traoré",
            email="awa@example.ci",
            fee_minor=1_250,
            now=now,
        )
        b = await _tenant(
            sessions,
            providers,
            name="Dakar Remit",
            person="Moussa Ndiaye",
            email="moussa@example.sn",
            fee_minor=3_400,
            now=now,
        )
    return Tenants(a=a, b=b)


async def bound_key(sessions: async_sessionmaker[AsyncSession], scope: Scope, *, platform_id: str) -> str:
    """The secret of a new key with ``scope``, bound to ``platform_id`` (a platform's own staff)."""
    async with db.transaction(sessions) as session:
        created = await auth_service.create_key(
            session,
            name=f"{scope.value} of {platform_id}",
            scopes=[scope.value],
            expires_at=None,
            actor=TEST_ACTOR,
            platform_id=platform_id,
        )
    return created.secret
