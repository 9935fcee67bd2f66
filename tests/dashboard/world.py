"""Real data for the dashboard to show, made through the domains' services
(parties, wallets, the ledger, collections and payouts against the PSP
sandbox over HTTP, escrows, webhooks signed as their providers sign them, alerts) at
chosen times, so every number on a page is known in advance."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import db
from sika.core.config import Settings
from sika.core.phases import standalone
from sika.escrow import schemas as escrow_schemas
from sika.escrow import service as escrow_service
from sika.parties import schemas as parties_schemas
from sika.parties import service as parties_service
from sika.payments import service as payments_service
from sika.providers import registry as provider_registry
from sika.providers.base import MobileOperator
from sika.wallets import service as wallets_service
from sika.webhooks import service as webhooks_service
from tests.conftest import TEST_ACTOR
from tests.support.factories import funded_wallet_in

SUCCESS_PHONE = "+2250700000101"
"""A number the sandbox lets through without a scenario."""
TOP_UP_MINOR = 100_000
COLLECTION_DAYS_AGO = (20, 3, 3, 1, 0)
"""One collection created this many days before ``now`` each; all but today's are stuck."""
PAYOUTS = ((2, 5_000), (0, 7_000))
"""(days before ``now``, amount) of each payout."""
ESCROW_DAYS_AGO = (4, 1, 1, 0)
"""One escrow (awaiting its funding) created this many days before ``now`` each."""


@dataclass(frozen=True)
class World:
    now: datetime
    party_id: str
    wallet_id: str
    collections: dict[str, datetime]
    """Id → created at."""
    payouts: dict[str, datetime]
    escrows: dict[str, datetime]
    open_alert_ids: tuple[str, ...]
    acknowledged_alert_id: str


def stopped_at(at: datetime) -> Callable[[], datetime]:
    """A clock that always reads ``at``: a flow dated in advance."""
    return lambda: at


def paystack_signed(settings: Settings, payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    assert settings.PAYSTACK_SECRET_KEY is not None
    body = json.dumps(payload).encode()
    signature = hmac.new(settings.PAYSTACK_SECRET_KEY.get_secret_value().encode(), body, hashlib.sha512).hexdigest()
    return body, {"x-paystack-signature": signature}


def fedapay_signed(settings: Settings, body: bytes, *, now: datetime) -> dict[str, str]:
    assert settings.FEDAPAY_WEBHOOK_SECRET is not None
    stamp = int(now.timestamp())
    secret = settings.FEDAPAY_WEBHOOK_SECRET.get_secret_value().encode()
    signature = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-fedapay-signature": f"t={stamp},s={signature}"}


async def build(
    sessions: async_sessionmaker[AsyncSession], *, provider_settings: Settings, settings: Settings, now: datetime
) -> World:
    """``provider_settings`` point at a live sandbox; ``settings`` are the app's (webhook secrets)."""
    async with db.transaction(sessions) as session:
        party, wallet = await funded_wallet_in(
            session,
            amount_minor=TOP_UP_MINOR,
            now=now - timedelta(days=30),
            display_name="Awa Traoré",
            country="CI",
            email="awa@example.ci",
        )
    collections: dict[str, datetime] = {}
    payouts: dict[str, datetime] = {}
    async with httpx.AsyncClient() as client:
        providers = provider_registry.build_router(provider_settings, client)
        for days_ago in COLLECTION_DAYS_AGO:
            at = now - timedelta(days=days_ago)
            async with standalone(sessions) as phases:
                collection = await payments_service.create_collection(
                    phases,
                    party_id=party.id,
                    wallet_id=wallet.id,
                    amount_minor=2_500,
                    currency="XOF",
                    method=payments_service.MobileMoney(operator=MobileOperator.mtn, phone=SUCCESS_PHONE),
                    providers=providers,
                    idempotency_key=None,
                    actor=TEST_ACTOR,
                    clock=stopped_at(at),
                )
            assert collection.status == "action_required", collection.status
            collections[collection.id] = at
        for days_ago, amount_minor in PAYOUTS:
            at = now - timedelta(days=days_ago)
            async with standalone(sessions) as phases:
                payout = await payments_service.create_payout(
                    phases,
                    party_id=party.id,
                    wallet_id=wallet.id,
                    amount_minor=amount_minor,
                    currency="XOF",
                    destination=payments_service.MobileMoney(operator=MobileOperator.mtn, phone=SUCCESS_PHONE),
                    recipient_name="Awa Traoré",
                    providers=providers,
                    payout_providers=provider_settings.PAYOUT_PROVIDERS,
                    idempotency_key=None,
                    actor=TEST_ACTOR,
                    clock=stopped_at(at),
                )
            assert payout.status == "processing", payout.status
            payouts[payout.id] = at

    escrows = await _escrows(sessions, client_id=party.id, now=now)
    async with db.transaction(sessions) as session:
        # Paystack: one waiting for its job, one naming no collection (unmatched, alerted),
        # one whose every attempt failed (alerted). FedaPay: one signed but unreadable (alerted).
        stamp = int(time.time())
        for number, reference in ((1, "col_waiting"), (2, "col_nobody"), (3, "col_failing")):
            body, headers = paystack_signed(
                settings,
                {
                    "event": "charge.success",
                    "data": {"id": stamp * 10 + number, "reference": reference, "amount": 250_000, "currency": "XOF"},
                },
            )
            received = await webhooks_service.receive(
                session, provider="paystack", body=body, headers=headers, settings=settings, now=now
            )
            assert isinstance(received, webhooks_service.Received)
            if reference == "col_nobody":
                assert await webhooks_service.process(session, event_id=received.id, now=now, actor=TEST_ACTOR) == (
                    "unmatched"
                )
            elif reference == "col_failing":
                delay = await webhooks_service.record_failure(
                    session, event_id=received.id, error="provider lookup timed out", delays_seconds=[], now=now
                )
                assert delay is None
        unreadable = b'{"surprise": true}'
        rejected = await webhooks_service.receive(
            session,
            provider="fedapay",
            body=unreadable,
            headers=fedapay_signed(settings, unreadable, now=now),
            settings=settings,
            now=now,
        )
        assert isinstance(rejected, webhooks_service.Received)
        handled = await alerts_service.raise_alert(
            session,
            kind="reconciliation.provider_unreachable",
            message="Paystack did not answer",
            severity="info",
            platform_id=None,
        )
        await alerts_service.acknowledge(session, alert_id=handled.id, actor=TEST_ACTOR, now=now)
    async with db.transaction(sessions) as session:
        open_alerts = await alerts_service.list_alerts(session, is_open=True)
    return World(
        now=now,
        party_id=party.id,
        wallet_id=wallet.id,
        collections=collections,
        payouts=payouts,
        escrows=escrows,
        open_alert_ids=tuple(alert.id for alert in open_alerts),
        acknowledged_alert_id=handled.id,
    )


async def _escrows(sessions: async_sessionmaker[AsyncSession], *, client_id: str, now: datetime) -> dict[str, datetime]:
    """``ESCROW_DAYS_AGO``'s escrows of the world's party for a talent: id → created at."""
    created: dict[str, datetime] = {}
    async with db.transaction(sessions) as session:
        # The talent's wallet stays empty, so the ledger's totals are the world's top-up alone.
        talent = await parties_service.create_party(
            session,
            body=parties_schemas.PartyCreate(
                display_name="Kofi Talent", type=parties_schemas.PartyType.individual, country="CI"
            ),
            actor=TEST_ACTOR,
            now=now - timedelta(days=30),
        )
        await wallets_service.open_wallet(
            session, party_id=talent.id, currency="XOF", actor=TEST_ACTOR, now=now - timedelta(days=30)
        )
        for days_ago in ESCROW_DAYS_AGO:
            at = now - timedelta(days=days_ago)
            body = escrow_schemas.EscrowCreate(
                client_party_id=client_id,
                beneficiary_party_id=talent.id,
                currency="XOF",
                amount_minor=1_000,
                milestones=[escrow_schemas.MilestoneCreate(title="logo", amount_minor=1_000)],
            )
            view = await escrow_service.create_escrow(session, body=body, payout_providers={}, actor=TEST_ACTOR, now=at)
            created[view.escrow.id] = at
    return created
