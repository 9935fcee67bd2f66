"""Reconciliation restores what a crash lost: the step a provider still waits
for (an OTP), and gives up, once and loudly, on what never moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.providers import registry
from sika.providers.base import CollectionRequest, MobileOperator, PaymentMethod, ProviderName, StatusLookup
from sika.providers.failover import CollectionRouter
from tests.support.factories import PartyWallet
from tests.support.payments import (
    SUCCESS_PHONE,
    World,
    alerts_for,
    assert_ledger_clean,
    initiated_collection,
)

AMOUNT = 3_000
OTP = "123456"
ACTOR = system_actor("payments.reconcile")
DISPLAY_TEXT = "Dial #144*82# to get your authorisation code, then enter it here"


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


async def reconcile(
    world: World, providers: CollectionRouter, *, give_up_after_seconds: int | None = None
) -> payments_service.ReconcileReport:
    giving_up = {} if give_up_after_seconds is None else {"give_up_after_seconds": give_up_after_seconds}
    return await payments_service.reconcile(
        world.sessions, providers=providers, after_seconds=0, actor=ACTOR, clock=clock.now, **giving_up
    )


async def charged_at_paystack(world: World, providers: CollectionRouter, kofi: PartyWallet) -> str:
    """An Orange Money collection Paystack asked an OTP for, whose answer Sika never
    recorded: what a crash during the call to ``/charge`` leaves (the row ``initiated``)."""
    collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT, operator="orange")
    charged = await providers.provider(ProviderName.paystack).collect(
        CollectionRequest(
            reference=collection_id,
            amount_minor=AMOUNT,
            currency="XOF",
            method=PaymentMethod.mobile_money,
            customer_email="kofi@example.ci",
            phone=SUCCESS_PHONE,
            operator=MobileOperator.orange,
            country="CI",
        )
    )
    assert charged.provider_status == "send_otp"
    return collection_id


async def set_row(sessions: async_sessionmaker[AsyncSession], collection_id: str, **values: object) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(sa.update(Collection).where(Collection.id == collection_id).values(**values))


async def submit_otp(world: World, collection_id: str) -> httpx.Response:
    return await world.client.post(f"/v1/collections/{collection_id}/otp", json={"otp": OTP}, headers=world.platform)


class TestLostNextStep:
    async def test_paystack_answers_the_pending_step_of_a_charge(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        step = await providers.provider(ProviderName.paystack).collection_pending_step(
            StatusLookup(reference=collection_id)
        )
        assert (step.next_action.value, step.provider_status, step.display_text) == (
            "submit_otp",
            "send_otp",
            DISPLAY_TEXT,
        )

    async def test_a_crash_before_the_otp_request_was_recorded_asks_the_customer_again(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)

        report = await reconcile(world, providers)
        assert (report.checked, report.changed) == (1, 1)
        shown = await world.shown("collections", collection_id)
        assert (shown["status"], shown["provider"]) == ("action_required", "paystack")
        assert shown["next_action"] == {"type": "submit_otp", "display_text": DISPLAY_TEXT, "redirect_url": None}

        done = await submit_otp(world, collection_id)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "succeeded"
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)

    async def test_a_collection_left_processing_moves_back_to_the_step_the_provider_waits_for(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        # What an earlier reconciliation made of the crash: processing, no step shown.
        collection_id = await charged_at_paystack(world, providers, kofi)
        await set_row(
            world.sessions, collection_id, status="processing", provider="paystack", provider_reference=collection_id
        )
        refused = await submit_otp(world, collection_id)
        assert refused.json()["code"] == "collection_not_awaiting_otp"

        report = await reconcile(world, providers)
        assert report.changed == 1
        shown = await world.shown("collections", collection_id)
        assert shown["status"] == "action_required"
        assert shown["next_action"]["type"] == "submit_otp"
        assert (await submit_otp(world, collection_id)).json()["status"] == "succeeded"
        assert await world.wallet(kofi) == (AMOUNT, 0)

        # Settled: the next run has nothing to ask and nothing moves twice.
        again = await reconcile(world, providers)
        assert (again.checked, again.changed) == (0, 0)
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)


class TestGiveUp:
    async def test_an_item_that_never_moves_is_alerted_once_and_left_until_an_operator_requeues_it(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        await set_row(world.sessions, collection_id, updated_at=clock.now() - timedelta(hours=2))

        first = await reconcile(world, providers, give_up_after_seconds=3600)
        assert (first.checked, first.given_up) == (0, 1)
        assert await alerts_for(world.sessions, collection_id) == [("collection.reconcile_given_up", "warning")]
        second = await reconcile(world, providers, give_up_after_seconds=3600)
        assert (second.checked, second.given_up) == (0, 0)
        assert len(await alerts_for(world.sessions, collection_id)) == 1
        assert (await world.shown("collections", collection_id))["status"] == "initiated"

        refused = await world.client.post(f"/v1/collections/{collection_id}/requeue", headers=world.platform)
        assert refused.status_code == 403
        requeued = await world.client.post(f"/v1/collections/{collection_id}/requeue", headers=world.admin)
        assert requeued.status_code == 200, requeued.text
        third = await reconcile(world, providers, give_up_after_seconds=3600)
        assert (third.checked, third.changed, third.given_up) == (1, 1, 0)
        assert (await world.shown("collections", collection_id))["status"] == "action_required"

    async def test_a_final_collection_is_not_requeued(
        self, world: World, kofi: PartyWallet, providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        await reconcile(world, providers)
        assert (await submit_otp(world, collection_id)).json()["status"] == "succeeded"
        before = await world.footprint()
        refused = await world.client.post(f"/v1/collections/{collection_id}/requeue", headers=world.admin)
        assert refused.status_code == 409
        assert refused.json()["code"] == "reconcile_not_open"
        assert await world.footprint() == before
