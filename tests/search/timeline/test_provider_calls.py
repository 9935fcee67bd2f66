"""Every call Sika makes to a provider for a payment is in its timeline, with what was sent
and what came back: a charge the provider answered too late shows as a call with no answer,
and reconciliation's status checks that finished it as calls with the provider's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.payments import service as payments_service
from sika.providers import registry
from sika.providers.failover import CollectionRouter
from tests.conftest import make_key
from tests.support.factories import PartyWallet
from tests.support.payments import World, collection_body, mobile_money
from tests.support.sandbox import eventually, impatient

AMOUNT = 2_500
LATE_PHONE = "+2250700000052"
"""The sandbox records the charge but answers after Sika's provider timeout."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return impatient(settings)


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


async def test_a_late_answer_and_the_checks_that_finished_it_are_in_the_timeline(
    world: World, kofi: PartyWallet, providers: CollectionRouter
) -> None:
    made = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", LATE_PHONE)))
    collection = made.json()
    assert collection["status"] == "processing", made.text

    async def finished() -> bool:
        await payments_service.reconcile(
            world.sessions,
            providers=providers,
            after_seconds=0,
            actor=system_actor("payments.reconcile"),
            clock=clock.now,
        )
        return bool((await world.shown("collections", collection["id"]))["status"] == "succeeded")

    await eventually(finished, what="reconciliation to finish the collection")
    support = {"Authorization": f"Bearer {await make_key(world.sessions, Scope.support)}"}
    timeline = await world.client.get(f"/v1/collections/{collection['id']}/timeline", headers=support)
    assert timeline.status_code == 200, timeline.text
    entries = timeline.json()["entries"]
    made_calls = [entry for entry in entries if entry["kind"] == "provider_call"]
    charge, *checks = made_calls
    assert (charge["action"], charge["state"], charge["details"]["status_code"]) == (
        "POST /paystack/charge",
        "no_answer",
        None,
    )
    assert "Timeout" in charge["details"]["error"]
    assert charge["details"]["request"]["json"]["reference"] == collection["id"]
    assert checks, "reconciliation's status checks are recorded"
    assert all(check["action"].startswith("GET ") for check in checks)
    assert checks[-1]["state"] == "200"
    assert checks[-1]["details"]["response"]["data"]["status"] == "success"
    kinds = [entry["kind"] for entry in entries]
    assert kinds.index("provider_call") > kinds.index("state_change"), "called after the collection was recorded"
    async with world.sessions() as session:
        stored = await session.scalar(
            sa.text("SELECT count(*) FROM payments_provider_calls WHERE entity_id = :id AND platform_id = :platform"),
            {"id": collection["id"], "platform": kofi.party["platform_id"]},
        )
    assert stored == len(made_calls)
