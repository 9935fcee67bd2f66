"""Reconciliation finishes what the phases left open, by asking the provider:
an unknown outcome, a crash after the first phase, a webhook never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.payments import service as payments_service
from sika.providers import registry
from sika.providers.base import CollectionRequest, CollectionStatus, MobileOperator, PaymentMethod, ProviderName
from sika.providers.failover import CollectionRouter
from tests.support.payments import (
    Payer,
    alerts_for,
    assert_ledger_clean,
    collection_body,
    count,
    initiated_collection,
    mobile_money,
    payout_body,
    top_up,
    wallet_state,
)
from tests.support.sandbox import LiveSandbox, eventually, impatient

AMOUNT = 2_500
ACTOR = system_actor("payments.reconcile")


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], providers: CollectionRouter
) -> payments_service.ReconcileReport:
    return await payments_service.reconcile(
        sessions, providers=providers, after_seconds=0, actor=ACTOR, clock=clock.now
    )


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], collection_id: str) -> str:
    return str((await client.get(f"/v1/collections/{collection_id}", headers=headers)).json()["status"])


class TestUnknownOutcome:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return impatient(settings)

    async def test_an_unknown_outcome_is_finished_by_asking_the_provider(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
        providers: CollectionRouter,
    ) -> None:
        # The sandbox records the charge but answers after the provider timeout.
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000052"))
        collection = (await client.post("/v1/collections", json=body, headers=platform_headers)).json()
        assert collection["status"] == "processing"
        assert collection["provider"] == "paystack"

        async def finished() -> bool:
            await reconcile(sessions, providers)
            return await status_of(client, platform_headers, collection["id"]) == "succeeded"

        await eventually(finished, what="reconciliation to see the charge approved")
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        report = await reconcile(sessions, providers)
        assert (report.checked, report.changed) == (0, 0)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)


class TestCollections:
    async def test_a_collection_no_provider_ever_got_fails_and_credits_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
        providers: CollectionRouter,
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        report = await reconcile(sessions, providers)
        assert (report.checked, report.changed, report.unreachable) == (1, 1, 0)
        shown = (await client.get(f"/v1/collections/{collection_id}", headers=platform_headers)).json()
        assert shown["status"] == "failed"
        assert shown["failure"]["code"] == "not_found_at_provider"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)

    async def test_a_crash_after_the_provider_took_the_charge_is_finished_at_the_provider_that_took_it(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        providers: CollectionRouter,
    ) -> None:
        async with sandbox.admin() as admin:
            await admin.put("/scenarios/paystack", json={"scenario": "outage"})
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        # The route failed over to FedaPay, which took the charge; then the process died.
        taken = await providers.collect(
            CollectionRequest(
                reference=collection_id,
                amount_minor=AMOUNT,
                currency="XOF",
                method=PaymentMethod.mobile_money,
                customer_email="kofi@example.ci",
                phone="+2250700000101",
                operator=MobileOperator.mtn,
                country="CI",
            ),
            now=clock.now(),
        )
        assert taken.provider is ProviderName.fedapay
        async with sandbox.admin() as admin:
            await admin.delete("/scenarios/paystack")

        async def finished() -> bool:
            await reconcile(sessions, providers)
            return await status_of(client, platform_headers, collection_id) == "succeeded"

        await eventually(finished, what="reconciliation to find the charge at FedaPay")
        shown = (await client.get(f"/v1/collections/{collection_id}", headers=platform_headers)).json()
        assert (shown["provider"], shown["provider_reference"]) == ("fedapay", taken.provider_reference)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)


class TestPayouts:
    async def test_a_payout_whose_webhook_never_came_is_finished_by_asking_the_provider(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        admin_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
        providers: CollectionRouter,
    ) -> None:
        await top_up(client, admin_headers, kofi.wallet_id, AMOUNT)
        payout = (
            await client.post(
                "/v1/payouts",
                json=payout_body(kofi, amount_minor=AMOUNT, phone="+2250700000064"),
                headers=platform_headers,
            )
        ).json()
        assert payout["status"] == "processing"

        async def finished() -> bool:
            await reconcile(sessions, providers)
            shown = (await client.get(f"/v1/payouts/{payout['id']}", headers=platform_headers)).json()
            return shown["status"] == "succeeded"

        await eventually(finished, what="reconciliation to see the transfer paid")
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        await assert_ledger_clean(sessions)


class TestDisagreements:
    async def test_a_provider_success_for_a_failed_collection_changes_nothing_and_raises_an_alert(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
        providers: CollectionRouter,
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        await reconcile(sessions, providers)
        assert await status_of(client, platform_headers, collection_id) == "failed"

        late = payments_service.CollectionUpdate(
            source=payments_service.Source.webhook,
            provider=ProviderName.paystack,
            status=CollectionStatus.succeeded,
            amount_minor=AMOUNT,
            currency="XOF",
            detail="charge.success",
        )
        async with db.transaction(sessions) as session:
            _, applied = await payments_service.apply_collection_update(
                session, collection_id=collection_id, update=late, now=clock.now(), actor=ACTOR
            )
        assert applied is payments_service.Applied.disagreement
        assert await status_of(client, platform_headers, collection_id) == "failed"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await alerts_for(sessions, collection_id) == [("collection.provider_disagreement", "critical")]
        assert await count(sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0
