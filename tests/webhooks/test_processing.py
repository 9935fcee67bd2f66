"""Processing stored webhooks: an unknown reference is kept and alerted; a
failing attempt is rolled back, recorded and retried after the configured
delays, then failed and alerted; an operator can process it again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.ledger import service as ledger_service
from sika.wallets.models import Wallet
from tests.conftest import TEST_ACTOR, make_key
from tests.support.factories import PartyWallet
from tests.support.payments import World, alerts_for, assert_ledger_clean, collection_body, count, mobile_money
from tests.support.sandbox import eventually
from tests.webhooks.test_intake import charge_success, post, signed

AMOUNT = 2_500


@pytest.fixture
async def support_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"}


async def stored(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str, int, str | None]:
    """(id, status, attempts, outcome) of the one stored event."""
    async with sessions() as session:
        row = (
            await session.execute(sa.text("SELECT id, status, attempts, outcome FROM webhooks_inbound_events"))
        ).one()
    return row.id, row.status, row.attempts, row.outcome


async def database_now(sessions: async_sessionmaker[AsyncSession]) -> datetime:
    async with sessions() as session:
        now: datetime = await session.scalar(sa.text("SELECT now()"))
    return now


async def retry_due_at(sessions: async_sessionmaker[AsyncSession], *, due: bool = False) -> datetime | None:
    """When the one scheduled processing job is due; with ``due``, only once it is."""
    async with sessions() as session:
        at: datetime | None = await session.scalar(
            sa.text(
                "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'webhooks.process_event'"
                " AND status = 'todo' AND scheduled_at IS NOT NULL AND (NOT :due OR scheduled_at <= now())"
            ),
            {"due": due},
        )
    return at


async def collecting(world: World, who: PartyWallet) -> str:
    """An Orange Money collection waiting for its OTP: no webhook comes but the one a test posts."""
    response = await world.collect(collection_body(who, amount_minor=AMOUNT, method=mobile_money("orange")))
    assert response.json()["status"] == "action_required"
    return str(response.json()["id"])


class TestUnknownReference:
    async def test_an_event_for_no_known_collection_is_kept_and_alerted(
        self, world: World, support_headers: dict[str, str]
    ) -> None:
        body, headers = signed("paystack", charge_success("col_nobody"), world.settings)
        assert (await post(world.client, "paystack", body, headers)).status_code == 200
        await world.run_jobs()

        event_id, status, attempts, outcome = await stored(world.sessions)
        assert (status, attempts, outcome) == ("unmatched", 0, None)
        assert await alerts_for(world.sessions, event_id) == [("webhook.unknown_reference", "warning")]
        listed = await world.client.get("/v1/webhooks/events", params={"status": "unmatched"}, headers=support_headers)
        assert [(e["id"], e["reference"]) for e in listed.json()["data"]] == [(event_id, "col_nobody")]


class TestRetries:
    async def test_a_failing_event_is_retried_after_each_delay_then_failed_and_alerted_and_can_be_retried(
        self, world: World, kofi: PartyWallet, support_headers: dict[str, str]
    ) -> None:
        collection_id = await collecting(world, kofi)
        # The wallet's account closed meanwhile: the credit is refused, so processing fails.
        async with db.transaction(world.sessions) as session:
            wallet = await session.get(Wallet, kofi.wallet_id)
            assert wallet is not None
            await ledger_service.close_account(session, account_id=wallet.account_id, now=clock.now(), actor=TEST_ACTOR)
        body, headers = signed("paystack", charge_success(collection_id, amount_wire=AMOUNT * 100), world.settings)
        await post(world.client, "paystack", body, headers)

        assert world.settings.WEBHOOK_RETRY_DELAYS_SECONDS == [1, 2]
        event_id = (await stored(world.sessions))[0]
        for attempts, delay in ((1, 1), (2, 2)):
            started = await database_now(world.sessions)
            await world.run_jobs()
            assert (await stored(world.sessions))[1:3] == ("received", attempts)
            # Deferred again no sooner than the delay after this attempt; waited for, not slept.
            due_at = await retry_due_at(world.sessions)
            assert due_at is not None
            assert due_at >= started + timedelta(seconds=delay)
            await eventually(lambda: retry_due_at(world.sessions, due=True), what=f"the retry after {delay} s")
        await world.run_jobs()
        assert (await stored(world.sessions))[1:3] == ("failed", 3)
        assert await alerts_for(world.sessions, event_id) == [("webhook.processing_failed", "critical")]
        assert (await world.shown("collections", collection_id))["status"] == "action_required"
        assert await count(world.sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0

        retried = await world.client.post(f"/v1/webhooks/events/{event_id}/retry", headers=support_headers)
        assert retried.status_code == 200
        assert retried.json()["status"] == "received"
        before = await world.footprint()
        again = await world.client.post(f"/v1/webhooks/events/{event_id}/retry", headers=support_headers)
        assert again.status_code == 409
        assert again.json()["code"] == "webhook_event_not_retryable"
        assert await world.footprint() == before
        await assert_ledger_clean(world.sessions)

    async def test_an_event_processes_once_even_if_its_job_runs_twice(self, world: World, kofi: PartyWallet) -> None:
        collection_id = await collecting(world, kofi)
        body, headers = signed("paystack", charge_success(collection_id, amount_wire=AMOUNT * 100), world.settings)
        await post(world.client, "paystack", body, headers)
        await world.run_jobs()
        # A second run of the same job, as after a worker died before marking it done.
        async with db.transaction(world.sessions) as session:
            await session.execute(
                sa.text("UPDATE procrastinate_jobs SET status = 'todo' WHERE task_name = 'webhooks.process_event'")
            )
        await world.run_jobs()
        assert (await stored(world.sessions))[1:] == ("processed", 0, "changed")
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)
