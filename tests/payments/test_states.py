"""The state rules, news by news: whatever order the provider's answer,
its webhooks and reconciliation arrive in, a state only moves forward and
money moves once."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.context import system_actor
from sika.events.models import Event
from sika.payments import service as payments_service
from sika.providers.base import CollectionStatus, NextAction, ProviderName
from tests.support.payments import (
    Payer,
    alerts_for,
    assert_ledger_clean,
    count,
    initiated_collection,
    wallet_state,
)

AMOUNT = 1_500
ACTOR = system_actor("test")
Source = payments_service.Source


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


async def apply(
    sessions: async_sessionmaker[AsyncSession], collection_id: str, update: payments_service.CollectionUpdate
) -> tuple[str, payments_service.Applied]:
    async with db.transaction(sessions) as session:
        collection, applied = await payments_service.apply_collection_update(
            session, collection_id=collection_id, update=update, now=clock.now(), actor=ACTOR
        )
        return collection.status, applied


async def event_types(sessions: async_sessionmaker[AsyncSession], collection_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(sa.select(Event.type).where(Event.entity_id == collection_id).order_by(Event.seq))
        return list(rows)


class TestCollectionStates:
    async def test_a_webhook_before_the_providers_answer_wins_and_the_answer_changes_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        assert await apply(sessions, collection_id, news(Source.webhook, CollectionStatus.succeeded)) == (
            "succeeded",
            payments_service.Applied.changed,
        )
        answer = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        assert await apply(sessions, collection_id, answer) == ("succeeded", payments_service.Applied.unchanged)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        assert await event_types(sessions, collection_id) == ["collection.succeeded"]
        await assert_ledger_clean(sessions)

    async def test_a_duplicate_success_credits_once(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        for _ in range(3):
            await apply(sessions, collection_id, news(Source.webhook, CollectionStatus.succeeded))
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        assert await count(sessions, "ledger_transfers", "code = 'collection.succeeded'") == 1
        assert await alerts_for(sessions, collection_id) == []

    async def test_a_stale_pending_never_moves_a_state_back(
        self, kofi: Payer, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        waiting = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        assert (await apply(sessions, collection_id, waiting))[0] == "action_required"
        assert (await apply(sessions, collection_id, news(Source.webhook, CollectionStatus.pending))) == (
            "action_required",
            payments_service.Applied.unchanged,
        )
        assert (await apply(sessions, collection_id, news(Source.webhook, CollectionStatus.failed)))[0] == "failed"
        assert (await apply(sessions, collection_id, waiting)) == ("failed", payments_service.Applied.unchanged)
        assert await event_types(sessions, collection_id) == ["collection.action_required", "collection.failed"]

    async def test_news_from_another_provider_is_refused_and_alerted(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        waiting = news(Source.api, CollectionStatus.pending, next_action=NextAction.approve_on_phone)
        await apply(sessions, collection_id, waiting)
        other = news(Source.webhook, CollectionStatus.succeeded, provider=ProviderName.fedapay)
        assert await apply(sessions, collection_id, other) == (
            "action_required",
            payments_service.Applied.disagreement,
        )
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await alerts_for(sessions, collection_id) == [("collection.provider_disagreement", "critical")]

    async def test_a_success_in_another_currency_is_an_amount_mismatch(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        collection_id = await initiated_collection(sessions, kofi, amount_minor=AMOUNT)
        assert await apply(
            sessions, collection_id, news(Source.webhook, CollectionStatus.succeeded, currency="GHS")
        ) == (
            "amount_mismatch",
            payments_service.Applied.mismatch,
        )
        # The same report again is what was alerted: no second alert.
        assert await apply(
            sessions, collection_id, news(Source.webhook, CollectionStatus.succeeded, currency="GHS")
        ) == (
            "amount_mismatch",
            payments_service.Applied.unchanged,
        )
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await alerts_for(sessions, collection_id) == [("collection.amount_mismatch", "critical")]
        await assert_ledger_clean(sessions)
