"""The state rules, news by news: whatever order the provider's answer,
its webhooks and reconciliation arrive in, a state only moves forward and
money moves once."""

from __future__ import annotations

import sqlalchemy as sa

from sika.core import clock, db, ids
from sika.core.context import system_actor
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.events.models import Event
from sika.payments import service as payments_service
from sika.payments.models import Payout
from sika.providers.base import CollectionStatus, NextAction, PayoutStatus, ProviderName
from sika.wallets import service as wallets_service
from tests.support.factories import PartyWallet
from tests.support.payments import SUCCESS_PHONE, World, alerts_for, assert_ledger_clean, count, initiated_collection

AMOUNT = 1_500
FUNDS = 10_000
ACTOR = system_actor("test")
Source = payments_service.Source
Applied = payments_service.Applied


def news(
    source: payments_service.Source,
    status: CollectionStatus,
    *,
    provider: ProviderName = ProviderName.paystack,
    next_action: NextAction = NextAction.none,
    amount_minor: int = AMOUNT,
    currency: str = "XOF",
) -> payments_service.CollectionUpdate:
    return payments_service.CollectionUpdate(
        source=source,
        provider=provider,
        status=status,
        provider_reference="ref-1",
        next_action=next_action,
        display_text="Approve on your phone" if next_action is not NextAction.none else None,
        amount_minor=amount_minor,
        currency=currency,
        detail="test",
    )


def payout_news(status: PayoutStatus, *, amount_minor: int = AMOUNT) -> payments_service.PayoutUpdate:
    return payments_service.PayoutUpdate(
        source=Source.webhook,
        provider=ProviderName.paystack,
        status=status,
        provider_reference="TRF_1",
        amount_minor=amount_minor,
        currency="XOF",
        detail="test",
    )


async def apply(world: World, collection_id: str, update: payments_service.CollectionUpdate) -> tuple[str, Applied]:
    async with db.transaction(world.sessions) as session:
        collection, applied = await payments_service.apply_collection_update(
            session, collection_id=collection_id, update=update, now=clock.now(), actor=ACTOR
        )
        return collection.status, applied


async def apply_to_payout(world: World, payout_id: str, update: payments_service.PayoutUpdate) -> tuple[str, Applied]:
    async with db.transaction(world.sessions) as session:
        payout, applied = await payments_service.apply_payout_update(
            session, payout_id=payout_id, update=update, now=clock.now(), actor=ACTOR
        )
        return payout.status, applied


async def event_types(world: World, entity_id: str) -> list[str]:
    async with world.sessions() as session:
        rows = await session.scalars(sa.select(Event.type).where(Event.entity_id == entity_id).order_by(Event.seq))
        return list(rows)


async def processing_payout(world: World, who: PartyWallet) -> str:
    """A payout of AMOUNT from a wallet of FUNDS, its hold placed, as the provider
    accepted it: what every piece of news below is applied to."""
    await world.top_up(who, FUNDS)
    now = clock.now()
    payout_id = ids.new_id("po")
    async with db.transaction(world.sessions) as session:
        hold = await wallets_service.place_hold(
            session,
            wallet_id=who.wallet_id,
            amount_minor=AMOUNT,
            reason="payout",
            reference=payout_id,
            expires_in_seconds=None,
            owner=payments_service.hold_owner(payout_id),
            actor=ACTOR,
            now=now,
        )
        session.add(
            Payout(
                id=payout_id,
                party_id=who.party_id,
                platform_id=DEFAULT_PLATFORM_ID,
                wallet_id=who.wallet_id,
                amount_minor=AMOUNT,
                currency="XOF",
                operator="mtn",
                phone=SUCCESS_PHONE,
                country="CI",
                recipient_name="Kofi Mensah",
                reason="",
                status="processing",
                provider="paystack",
                hold_id=hold.pending.id,
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
    return payout_id


class TestCollectionStates:
    async def test_a_webhook_before_the_providers_answer_wins_and_the_answer_changes_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        success = news(Source.webhook, CollectionStatus.succeeded)
        assert await apply(world, collection_id, success) == ("succeeded", Applied.changed)
        answer = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        assert await apply(world, collection_id, answer) == ("succeeded", Applied.unchanged)
        assert await world.wallet(kofi) == (AMOUNT, 0)
        assert await event_types(world, collection_id) == ["collection.succeeded"]
        await assert_ledger_clean(world.sessions)

    async def test_a_duplicate_success_credits_once(self, world: World, kofi: PartyWallet) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        for _ in range(3):
            await apply(world, collection_id, news(Source.webhook, CollectionStatus.succeeded))
        assert await world.wallet(kofi) == (AMOUNT, 0)
        assert await count(world.sessions, "ledger_transfers", "code = 'collection.succeeded'") == 1
        assert await alerts_for(world.sessions, collection_id) == []

    async def test_a_stale_pending_never_moves_a_state_back(self, world: World, kofi: PartyWallet) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        waiting = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        assert (await apply(world, collection_id, waiting))[0] == "action_required"
        pending = news(Source.webhook, CollectionStatus.pending)
        assert await apply(world, collection_id, pending) == ("action_required", Applied.unchanged)
        assert (await apply(world, collection_id, news(Source.webhook, CollectionStatus.failed)))[0] == "failed"
        assert await apply(world, collection_id, waiting) == ("failed", Applied.unchanged)
        assert await event_types(world, collection_id) == ["collection.action_required", "collection.failed"]

    async def test_news_from_another_provider_is_refused_and_alerted(self, world: World, kofi: PartyWallet) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        waiting = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        await apply(world, collection_id, waiting)
        other = news(Source.webhook, CollectionStatus.succeeded, provider=ProviderName.fedapay)
        for _ in range(2):
            assert await apply(world, collection_id, other) == ("action_required", Applied.disagreement)
        assert await world.wallet(kofi) == (0, 0)
        assert await alerts_for(world.sessions, collection_id) == [("collection.provider_disagreement", "critical")]

    async def test_a_success_in_another_currency_is_an_amount_mismatch(self, world: World, kofi: PartyWallet) -> None:
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT)
        in_cedis = news(Source.webhook, CollectionStatus.succeeded, currency="GHS")
        assert await apply(world, collection_id, in_cedis) == ("amount_mismatch", Applied.mismatch)
        # The same report again is what was alerted: no second alert.
        assert await apply(world, collection_id, in_cedis) == ("amount_mismatch", Applied.unchanged)
        assert await world.wallet(kofi) == (0, 0)
        assert await alerts_for(world.sessions, collection_id) == [("collection.amount_mismatch", "critical")]
        await assert_ledger_clean(world.sessions)


class TestPayoutStates:
    async def test_a_duplicate_success_captures_once_and_a_stale_pending_changes_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout_id = await processing_payout(world, kofi)
        for _ in range(3):
            await apply_to_payout(world, payout_id, payout_news(PayoutStatus.succeeded))
        assert await apply_to_payout(world, payout_id, payout_news(PayoutStatus.pending)) == (
            "succeeded",
            Applied.unchanged,
        )
        assert await world.wallet(kofi) == (FUNDS - AMOUNT, 0)
        assert await event_types(world, payout_id) == ["payout.succeeded"]
        assert await alerts_for(world.sessions, payout_id) == []
        await assert_ledger_clean(world.sessions)

    async def test_a_success_after_a_failure_is_alerted_and_pays_nothing(self, world: World, kofi: PartyWallet) -> None:
        payout_id = await processing_payout(world, kofi)
        assert await apply_to_payout(world, payout_id, payout_news(PayoutStatus.failed)) == ("failed", Applied.changed)
        assert await world.wallet(kofi) == (FUNDS, 0)
        for _ in range(2):
            assert await apply_to_payout(world, payout_id, payout_news(PayoutStatus.succeeded)) == (
                "failed",
                Applied.disagreement,
            )
        assert await world.wallet(kofi) == (FUNDS, 0)
        assert await alerts_for(world.sessions, payout_id) == [("payout.provider_disagreement", "critical")]
        await assert_ledger_clean(world.sessions)

    async def test_a_failure_after_a_success_is_alerted_and_gives_nothing_back(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout_id = await processing_payout(world, kofi)
        await apply_to_payout(world, payout_id, payout_news(PayoutStatus.succeeded))
        assert await apply_to_payout(world, payout_id, payout_news(PayoutStatus.failed)) == (
            "succeeded",
            Applied.disagreement,
        )
        assert await world.wallet(kofi) == (FUNDS - AMOUNT, 0)
        assert await alerts_for(world.sessions, payout_id) == [("payout.provider_disagreement", "critical")]

    async def test_a_reversal_gives_the_money_back_once_and_nothing_moves_after_it(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout_id = await processing_payout(world, kofi)
        await apply_to_payout(world, payout_id, payout_news(PayoutStatus.succeeded))
        for _ in range(2):
            await apply_to_payout(world, payout_id, payout_news(PayoutStatus.reversed))
        assert await apply_to_payout(world, payout_id, payout_news(PayoutStatus.succeeded)) == (
            "reversed",
            Applied.unchanged,
        )
        assert await world.wallet(kofi) == (FUNDS, 0)
        assert await count(world.sessions, "ledger_transfers", "code = 'payout.reversed'") == 1
        assert await event_types(world, payout_id) == ["payout.succeeded", "payout.reversed"]
        await assert_ledger_clean(world.sessions)

    async def test_a_success_stating_another_amount_keeps_the_hold_and_is_alerted(
        self, world: World, kofi: PartyWallet
    ) -> None:
        payout_id = await processing_payout(world, kofi)
        short = payout_news(PayoutStatus.succeeded, amount_minor=AMOUNT - 1)
        # Reconciliation asks again and again while an operator looks: one alert, not one per run.
        for _ in range(3):
            assert await apply_to_payout(world, payout_id, short) == ("processing", Applied.mismatch)
        assert await world.wallet(kofi) == (FUNDS, AMOUNT)
        assert await alerts_for(world.sessions, payout_id) == [("payout.amount_mismatch", "critical")]
        await assert_ledger_clean(world.sessions)
