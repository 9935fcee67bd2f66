"""Reconciliation finishes what the phases left open, by asking the provider:
an unknown outcome, a crash after the first phase, a webhook never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.payments import service as payments_service
from sika.providers import registry
from sika.providers.base import CollectionRequest, CollectionStatus, MobileOperator, PaymentMethod, ProviderName
from sika.providers.failover import CollectionRouter
from tests.providers import builders as provider_builders
from tests.support.factories import PartyWallet
from tests.support.payments import (
    SUCCESS_PHONE,
    World,
    alerts_for,
    assert_ledger_clean,
    collection_body,
    initiated_collection,
    mobile_money,
    payout_body,
    wallet_state,
)
from tests.support.sandbox import eventually, impatient

AMOUNT = 2_500
ACTOR = system_actor("payments.reconcile")


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


async def reconcile(world: World, providers: CollectionRouter) -> payments_service.ReconcileReport:
    return await payments_service.reconcile(
        world.sessions, providers=providers, after_seconds=0, actor=ACTOR, clock=clock.now
    )


async def reconciled_until(world: World, providers: CollectionRouter, kind: str, entity_id: str, status: str) -> None:
    """Reconcile until the collection or payout shows ``status`` (the sandbox settles it in the background)."""

    async def finished() -> bool:
        await reconcile(world, providers)
        return bool((await world.shown(kind, entity_id))["status"] == status)

    await eventually(finished, what=f"reconciliation to see {entity_id} {status}")


class TestUnknownOutcome:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return impatient(settings)

    async def test_an_unknown_outcome_is_finished_by_asking_the_provider(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        # The sandbox records the charge but answers after the provider timeout.
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000052"))
        collection = (await world.collect(body)).json()
        assert (collection["status"], collection["provider"]) == ("processing", "paystack")

        await reconciled_until(world, providers, "collections", collection["id"], "succeeded")
        assert await world.wallet(kofi) == (AMOUNT, 0)
        before = await world.footprint()
        report = await reconcile(world, providers)
        assert (report.checked, report.changed) == (0, 0)
        assert await world.footprint() == before
        await assert_ledger_clean(world.sessions)


class TestLostStripeCreate:
    """Stripe's Search lags behind writes (https://docs.stripe.com/search#data-freshness): a card
    create whose answer was lost is found by replaying it, and is never failed on a Search miss."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return impatient(settings)

    async def lost_card_collection(self, world: World, kofi: PartyWallet) -> dict[str, Any]:
        async with world.sandbox.admin() as admin:
            await admin.patch("/config", json={"stripe_search_lag_seconds": 3600})
        token = await provider_builders.stripe_card(world.sandbox, provider_builders.stripe_number("0052"))
        body = collection_body(kofi, amount_minor=AMOUNT, method={"type": "card", "card_token": token})
        collection: dict[str, Any] = (await world.collect(body)).json()
        assert (collection["status"], collection["provider"], collection["provider_reference"]) == (
            "processing",
            "stripe",
            None,
        )
        return collection

    async def test_is_found_by_replaying_the_create_while_search_lags(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection = await self.lost_card_collection(world, kofi)
        report = await reconcile(world, providers)
        assert (report.checked, report.changed, report.unreachable) == (1, 1, 0)
        [intent] = await world.sandbox.listed("payments", provider="stripe")
        shown = await world.shown("collections", collection["id"])
        assert (shown["status"], shown["provider_reference"]) == ("succeeded", intent["id"])
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)

    async def test_past_the_keys_lifetime_a_search_miss_leaves_it_open(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection = await self.lost_card_collection(world, kofi)
        async with db.transaction(world.sessions) as session:
            await session.execute(
                sa.text("UPDATE payments_collections SET created_at = created_at - interval '2 days' WHERE id = :id"),
                {"id": collection["id"]},
            )
        before = await world.footprint()
        report = await reconcile(world, providers)
        assert (report.checked, report.changed, report.unreachable) == (1, 0, 1)
        assert (await world.shown("collections", collection["id"]))["status"] == "processing"
        assert await world.wallet(kofi) == (0, 0)
        assert len(await world.sandbox.listed("payments", provider="stripe")) == 1
        assert await world.footprint() == before


class TestCollections:
    async def test_a_collection_no_provider_ever_got_fails_and_credits_nothing(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        report = await reconcile(world, providers)
        assert (report.checked, report.changed, report.unreachable) == (1, 1, 0)
        shown = await world.shown("collections", collection_id)
        assert (shown["status"], shown["failure"]["code"]) == ("failed", "not_found_at_provider")
        assert await world.wallet(kofi) == (0, 0)

    async def test_a_crash_after_the_provider_took_the_charge_is_finished_at_the_provider_that_took_it(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        async with world.sandbox.admin() as admin:
            await admin.put("/scenarios/paystack", json={"scenario": "outage"})
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        # The route failed over to FedaPay, which took the charge; then the process died.
        taken = await providers.collect(
            CollectionRequest(
                reference=collection_id,
                amount_minor=AMOUNT,
                currency="XOF",
                method=PaymentMethod.mobile_money,
                customer_email="kofi@example.ci",
                phone=SUCCESS_PHONE,
                operator=MobileOperator.mtn,
                country="CI",
            ),
            now=clock.now(),
        )
        assert taken.provider is ProviderName.fedapay
        async with world.sandbox.admin() as admin:
            await admin.delete("/scenarios/paystack")

        await reconciled_until(world, providers, "collections", collection_id, "succeeded")
        shown = await world.shown("collections", collection_id)
        assert (shown["provider"], shown["provider_reference"]) == ("fedapay", taken.provider_reference)
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)


class TestPayouts:
    async def test_a_payout_whose_webhook_never_came_is_finished_by_asking_the_provider(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        await world.top_up(kofi, AMOUNT)
        payout = (await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone="+2250700000064"))).json()
        assert payout["status"] == "processing"

        await reconciled_until(world, providers, "payouts", payout["id"], "succeeded")
        assert await world.wallet(kofi) == (0, 0)
        await assert_ledger_clean(world.sessions)


class TestDisagreements:
    async def test_a_provider_success_for_a_failed_collection_changes_nothing_and_raises_an_alert(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        await reconcile(world, providers)
        assert (await world.shown("collections", collection_id))["status"] == "failed"

        late = payments_service.CollectionUpdate(
            source=payments_service.Source.webhook,
            provider=ProviderName.paystack,
            status=CollectionStatus.succeeded,
            amount_minor=AMOUNT,
            currency="XOF",
            detail="charge.success",
        )
        before = await world.footprint()
        async with db.transaction(world.sessions) as session:
            _, applied = await payments_service.apply_collection_update(
                session, collection_id=collection_id, update=late, now=clock.now(), actor=ACTOR
            )
        assert applied is payments_service.Applied.disagreement
        assert await world.footprint() == before
        assert (await world.shown("collections", collection_id))["status"] == "failed"
        assert await world.wallet(kofi) == (0, 0)
        assert await alerts_for(world.sessions, collection_id) == [("collection.provider_disagreement", "critical")]


class TestBatchIsolation:
    async def test_one_item_that_cannot_be_checked_does_not_stop_the_others(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: PartyWallet,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        # A collection taken by a provider whose key was removed from the configuration
        # since: looking it up raises, and before this was isolated the run stopped there.
        orphan_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        async with db.transaction(sessions) as session:
            await session.execute(
                sa.text("UPDATE payments_collections SET provider = 'fedapay' WHERE id = :id"), {"id": orphan_id}
            )
        healthy_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        without_fedapay = settings.model_copy(
            update={
                "FEDAPAY_SECRET_KEY": None,
                "PROVIDER_ROUTES": {**settings.PROVIDER_ROUTES, "XOF:mobile_money": ["paystack"]},
            }
        )
        async with httpx.AsyncClient() as http:
            router = registry.build_router(without_fedapay, http)
            report = await payments_service.reconcile(
                sessions, providers=router, after_seconds=0, actor=ACTOR, clock=clock.now
            )
        assert (report.checked, report.changed, report.unreachable) == (2, 1, 1)
        healthy = (await client.get(f"/v1/collections/{healthy_id}", headers=platform_headers)).json()
        orphan = (await client.get(f"/v1/collections/{orphan_id}", headers=platform_headers)).json()
        assert healthy["status"] == "failed"
        assert orphan["status"] == "initiated"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
