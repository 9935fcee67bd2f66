"""Operators' safe actions over the API: re-run reconciliation now, re-queue, re-process
a failed webhook event, acknowledge an alert. Each is audited with its reason and moves
no money by itself (only the provider's own answer does, by the usual rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.audit.models import AuditEvent
from sika.core import clock, db
from sika.core.config import Settings
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.providers import registry
from sika.providers.failover import CollectionRouter
from tests.payments.test_recovery import charged_at_paystack
from tests.support.factories import PartyWallet, failed_payout_event
from tests.support.payments import World, assert_ledger_clean, collection_body, count, mobile_money
from tests.support.platforms import create_platform, key_headers
from tests.support.sandbox import eventually, impatient

AMOUNT = 3_000
REASON = "Customer says 3 000 F left her Orange Money at 10:14"
LATE_SUCCESS_PHONE = "+2250700000052"
"""The sandbox records the charge but answers after the provider timeout: Sika is left ``processing``."""


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


@pytest.fixture
async def support(world: World) -> dict[str, str]:
    return await key_headers(world.client, world.admin, scopes=["support"], platform_id=DEFAULT_PLATFORM_ID)


OPERATOR_ACTIONS = (
    "collection.reconcile_requested",
    "collection.reconciled",
    "collection.requeued",
    "webhook_event.retried",
    "alert.acknowledged",
)


async def audited(sessions: async_sessionmaker[AsyncSession], entity_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(action, data) of every operator action's audit row about ``entity_id``, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(AuditEvent.action, AuditEvent.data)
            .where(AuditEvent.entity_id == entity_id, AuditEvent.action.in_(OPERATOR_ACTIONS))
            .order_by(AuditEvent.seq)
        )
        return [(action, data) for action, data in rows]


async def reconcile(world: World, kind: str, entity_id: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await world.client.post(f"/v1/{kind}/{entity_id}/reconcile", json=body, headers=headers)


class TestReconcileNow:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return impatient(settings)

    async def test_a_late_success_credits_the_wallet_once_and_each_run_is_audited_with_its_reason(
        self, world: World, kofi: PartyWallet, support: dict[str, str]
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", LATE_SUCCESS_PHONE))
        collection = (await world.collect(body)).json()
        assert collection["status"] == "processing"

        async def succeeded() -> bool:
            answer = await reconcile(world, "collections", collection["id"], support, reason=REASON)
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["status"] == "succeeded")

        await eventually(succeeded, what="the operator's reconciliation to see the success")
        assert await world.wallet(kofi) == (AMOUNT, 0)
        actions = await audited(world.sessions, collection["id"])
        assert actions[0] == ("collection.reconcile_requested", {"reason": REASON, "status": "processing"})
        assert actions[-1] == (
            "collection.reconciled",
            {"reason": REASON, "outcome": "changed", "status_before": "processing", "status": "succeeded"},
        )
        assert len(actions) % 2 == 0

        # Final now: a second run is refused and moves nothing, not even an audit row.
        before = await world.footprint()
        refused = await reconcile(world, "collections", collection["id"], support, reason=REASON)
        assert (refused.status_code, refused.json()["code"]) == (409, "reconcile_not_open")
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)

    async def test_a_pending_answer_moves_no_money(
        self, world: World, kofi: PartyWallet, support: dict[str, str], providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        transfers = await count(world.sessions, "ledger_transfers")

        answer = await reconcile(world, "collections", collection_id, support, reason=REASON)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "action_required"
        assert await count(world.sessions, "ledger_transfers") == transfers
        assert await world.wallet(kofi) == (0, 0)
        assert [action for action, _ in await audited(world.sessions, collection_id)] == [
            "collection.reconcile_requested",
            "collection.reconciled",
        ]

    async def test_refused_without_reason_scope_or_for_another_platform_and_nothing_moves(
        self, world: World, kofi: PartyWallet, support: dict[str, str], providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        other = await create_platform(world.client, world.admin, name="Autre marché")
        elsewhere = await key_headers(world.client, world.admin, scopes=["support"], platform_id=other["id"])
        reader = await key_headers(world.client, world.admin, scopes=["read"], platform_id=None)
        before = await world.footprint()

        cases: list[tuple[dict[str, str], dict[str, Any], int]] = [
            (support, {}, 422),
            (support, {"reason": "   "}, 422),
            (world.platform, {"reason": REASON}, 403),
            (reader, {"reason": REASON}, 403),
            (elsewhere, {"reason": REASON}, 404),
        ]
        for headers, body, status in cases:
            refused = await reconcile(world, "collections", collection_id, headers, **body)
            assert refused.status_code == status, (body, refused.text)
        assert await world.footprint() == before
        assert (await world.shown("collections", collection_id))["status"] == "initiated"


class TestReasonsOnTheExistingActions:
    async def test_requeue_takes_a_support_key_and_audits_its_reason(
        self, world: World, kofi: PartyWallet, support: dict[str, str], providers: CollectionRouter
    ) -> None:
        collection_id = await charged_at_paystack(world, providers, kofi)
        transfers = await count(world.sessions, "ledger_transfers")
        answer = await world.client.post(
            f"/v1/collections/{collection_id}/requeue", json={"reason": REASON}, headers=support
        )
        assert answer.status_code == 200, answer.text
        assert await audited(world.sessions, collection_id) == [("collection.requeued", {"reason": REASON})]
        without = await world.client.post(f"/v1/collections/{collection_id}/requeue", headers=world.admin)
        assert without.status_code == 200, without.text
        assert (await audited(world.sessions, collection_id))[-1] == ("collection.requeued", {})
        assert await count(world.sessions, "ledger_transfers") == transfers

    async def test_a_webhook_event_retried_and_an_alert_acknowledged_keep_their_reason(
        self, world: World, support: dict[str, str]
    ) -> None:
        async with db.transaction(world.sessions) as session:
            event = failed_payout_event("po_gone", platform_id=DEFAULT_PLATFORM_ID, now=clock.now())
            session.add(event)
            alert = await alerts_service.raise_alert(
                session, kind="test.look", message="Look at it", platform_id=DEFAULT_PLATFORM_ID
            )
            event_id, alert_id = event.id, alert.id
        transfers = await count(world.sessions, "ledger_transfers")

        retried = await world.client.post(
            f"/v1/webhooks/events/{event_id}/retry", json={"reason": REASON}, headers=support
        )
        assert retried.status_code == 200, retried.text
        assert await audited(world.sessions, event_id) == [("webhook_event.retried", {"attempts": 3, "reason": REASON})]
        acknowledged = await world.client.post(
            f"/v1/alerts/{alert_id}/acknowledge", json={"reason": REASON}, headers=support
        )
        assert acknowledged.status_code == 200, acknowledged.text
        assert await audited(world.sessions, alert_id) == [("alert.acknowledged", {"reason": REASON})]
        assert await count(world.sessions, "ledger_transfers") == transfers
