"""Operators' safe actions from the dashboard (``operator_pages``): re-run a collection's
reconciliation now against the providers' sandbox, re-queue, acknowledge an object's
alerts, re-process a failed webhook event. Each is audited with its reason, moves no
money by itself, and is refused without the session's token, without a reason, or on
another platform's object, with nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import providers as api_providers
from sika.audit.models import AuditEvent
from sika.auth.scopes import Scope
from sika.core.config import Settings
from tests.conftest import make_key
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, form_token, sign_in
from tests.dashboard.world import World
from tests.support.payments import assert_ledger_clean, count
from tests.support.platforms import create_platform, key_headers
from tests.support.sandbox import LiveSandbox

REASON = "Customer called: 2 500 F left her MTN wallet"


@pytest.fixture
def settings(live: LiveSandbox) -> Settings:
    """The app asks the same sandbox the world's collections were made at."""
    return live.settings.model_copy(
        update={"RATE_LIMIT_PER_KEY": "100000/minute", "RATE_LIMIT_PER_ADDRESS": "100000/minute"}
    )


@pytest.fixture(autouse=True)
async def providers_closed(app: FastAPI) -> AsyncIterator[None]:
    """The dashboard asks the providers through the API app's client: closed as the app's lifespan would."""
    yield
    await api_providers.close(app)


@pytest.fixture
async def support(client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> httpx.AsyncClient:
    response = await sign_in(client, await make_key(sessions, Scope.support))
    assert response.status_code == 303, response.text
    return client


async def footprint(sessions: async_sessionmaker[AsyncSession], collection_id: str) -> dict[str, Any]:
    """What an action could change: money, audit rows, events, the collection's row."""
    async with sessions() as session:
        row = (
            await session.execute(
                sa.text("SELECT status, last_checked_at, updated_at FROM payments_collections WHERE id = :id"),
                {"id": collection_id},
            )
        ).one()
    return {
        "transfers": await count(sessions, "ledger_transfers"),
        "audit": await count(sessions, "audit_events"),
        "events": await count(sessions, "events"),
        "open alerts": await count(sessions, "alerts", "acknowledged_at IS NULL"),
        "webhook events received": await count(sessions, "webhooks_inbound_events", "status = 'received'"),
        "collection": tuple(row),
    }


async def audited(sessions: async_sessionmaker[AsyncSession], entity_id: str, action: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            sa.select(AuditEvent.data)
            .where(AuditEvent.entity_id == entity_id, AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        )
        return list(rows)


async def act(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    """Post an action's form as the actions page carries it (its CSRF token, unless given)."""
    page = await client.get(f"{DASHBOARD}/search")
    token = form_token(page.text) if "csrf_token" not in data else data.pop("csrf_token")
    return await client.post(f"{DASHBOARD}{path}", data={"csrf_token": token, **data})


async def test_reconcile_now_applies_the_provider_s_answer_once_and_audits_the_reason(
    support: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    collection_id = next(iter(world.collections))
    page = await support.get(f"{DASHBOARD}/collections/{collection_id}/actions")
    assert page.status_code == 200, page.text
    assert 'id="action-reconcile"' in page.text
    transfers = await count(sessions, "ledger_transfers")

    done = await support.post(
        f"{DASHBOARD}/collections/{collection_id}/reconcile",
        data={"csrf_token": form_token(page.text), "reason": REASON},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == (
        f"{DASHBOARD}/collections/{collection_id}/actions?done=reconciled&outcome=changed"
    )
    # The customer approved on the phone long ago: the sandbox answers succeeded, and the
    # credit is the provider's answer applied by the usual rule, once.
    assert await count(sessions, "ledger_transfers") == transfers + 1
    assert await audited(sessions, collection_id, "collection.reconcile_requested") == [
        {"reason": REASON, "status": "action_required"}
    ]
    assert await audited(sessions, collection_id, "collection.reconciled") == [
        {"reason": REASON, "outcome": "changed", "status_before": "action_required", "status": "succeeded"}
    ]
    await assert_ledger_clean(sessions)

    shown = pages.text((await support.get(done.headers["location"])).text)
    assert "Reconciliation ran. The provider's answer moved it on." in shown
    assert REASON in shown
    french = pages.text((await support.get(done.headers["location"] + "&lang=fr")).text)
    assert "Le rapprochement a été relancé. La réponse du prestataire l'a fait avancer." in french

    before = await footprint(sessions, collection_id)
    again = await act(support, f"/collections/{collection_id}/reconcile", reason=REASON)
    assert again.status_code == 409
    assert "Ce paiement est final" in pages.text(again.text)  # in French, as last chosen
    assert await footprint(sessions, collection_id) == before


async def test_requeue_and_acknowledge_keep_their_reason(
    support: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payout_id = next(iter(world.payouts))
    transfers = await count(sessions, "ledger_transfers")
    requeued = await act(support, f"/payouts/{payout_id}/requeue", reason=REASON)
    assert requeued.status_code == 303, requeued.text
    assert await audited(sessions, payout_id, "payout.requeued") == [{"reason": REASON}]

    async with sessions() as session:
        event_id = await session.scalar(
            sa.text("SELECT id FROM webhooks_inbound_events WHERE status = 'failed' ORDER BY received_at LIMIT 1")
        )
    assert isinstance(event_id, str)
    retried = await act(support, f"/webhook-events/{event_id}/retry", reason=REASON)
    assert retried.status_code == 303, retried.text
    assert retried.headers["location"] == f"{DASHBOARD}/webhooks?retried={event_id}"
    [row] = await audited(sessions, event_id, "webhook_event.retried")
    assert row["reason"] == REASON
    assert await count(sessions, "ledger_transfers") == transfers


async def test_acknowledging_an_object_s_alerts_audits_each_with_the_reason(
    support: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        about = (
            await session.execute(
                sa.text(
                    "SELECT entity_type, entity_id FROM alerts WHERE acknowledged_at IS NULL"
                    " AND entity_type = 'webhook_event' LIMIT 1"
                )
            )
        ).first()
    # The world's alerts are about webhook events; the action is on collections, payouts,
    # holds, wallets and parties: a payout's alert stands in for them.
    payout_id = next(iter(world.payouts))
    async with sessions() as session, session.begin():
        await session.execute(
            sa.text(
                "INSERT INTO alerts (id, kind, severity, message, entity_type, entity_id, data, platform_id)"
                " VALUES ('alrt_payout1', 'payout.reconcile_given_up', 'warning', 'Stuck', 'payout', :id, '{}',"
                " 'plt_default')"
            ),
            {"id": payout_id},
        )
    assert about is not None
    done = await act(support, f"/payouts/{payout_id}/alerts/acknowledge", reason=REASON)
    assert done.status_code == 303, done.text
    assert await audited(sessions, "alrt_payout1", "alert.acknowledged") == [{"reason": REASON}]
    assert await count(sessions, "alerts", "acknowledged_at IS NULL AND entity_id = :id", id=payout_id) == 0
    # Another object's alert is left alone.
    assert await count(sessions, "alerts", "acknowledged_at IS NULL AND entity_id = :id", id=about[1]) == 1


async def test_refused_without_token_or_reason_or_on_another_platform_and_nothing_changes(
    client: httpx.AsyncClient,
    world: World,
    sessions: async_sessionmaker[AsyncSession],
    admin_headers: dict[str, str],
) -> None:
    collection_id = next(iter(world.collections))
    other = await create_platform(client, admin_headers, name="Autre marché")
    elsewhere = await key_headers(client, admin_headers, scopes=["support"], platform_id=other["id"])
    assert (await sign_in(client, elsewhere["Authorization"].removeprefix("Bearer "))).status_code == 303
    before = await footprint(sessions, collection_id)
    for action in ("reconcile", "requeue", "alerts/acknowledge"):
        refused = await act(client, f"/collections/{collection_id}/{action}", reason=REASON)
        assert refused.status_code == 404, (action, refused.text)
    assert (await client.get(f"{DASHBOARD}/collections/{collection_id}/actions")).status_code == 404
    assert await footprint(sessions, collection_id) == before

    client.cookies.clear()
    assert (await sign_in(client, await make_key(sessions, Scope.support))).status_code == 303
    before = await footprint(sessions, collection_id)
    for action in ("reconcile", "requeue", "alerts/acknowledge"):
        path = f"/collections/{collection_id}/{action}"
        for data in ({"csrf_token": "forged", "reason": REASON}, {"csrf_token": ""}):
            refused = await act(client, path, **data)
            assert refused.status_code == 403, (action, data)
        for reason in ("", "   ", "x" * 501):
            refused = await act(client, path, reason=reason)
            assert refused.status_code == 400, (action, reason)
            assert "Give a reason" in pages.text(refused.text)
    assert await footprint(sessions, collection_id) == before
