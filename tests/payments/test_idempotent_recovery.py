"""A phased route's Idempotency-Key after a crash between its phases: the claim
committed with the first phase, the answer never stored. A retry gets the state
of what the key made (``Idempotent-Replayed: true``) once every phase has run or
the key's lease has passed; never 409 for a day."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.idempotency import service as idempotency_service
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.providers import registry
from sika.providers.failover import CollectionRouter
from tests.support.factories import PartyWallet
from tests.support.payments import World, collection_body, initiated_collection, mobile_money, payout_body

AMOUNT = 2_000
OTP = "123456"


async def as_if_killed(world: World, key: str, *, claimed_ago: timedelta = timedelta(0)) -> None:
    """Leave the key as a process SIGKILLed after its first phase leaves it: claimed,
    committed, no answer stored; its claim made ``claimed_ago``."""
    async with db.transaction(world.sessions) as session:
        updated = await session.execute(
            sa.text(
                "UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, "
                "response_content_type = NULL, created_at = now() - :ago WHERE key = :key"
            ),
            {"key": key, "ago": claimed_ago},
        )
        assert updated.rowcount == 1  # type: ignore[attr-defined]


async def set_row(world: World, collection_id: str, **values: object) -> None:
    async with db.transaction(world.sessions) as session:
        await session.execute(sa.update(Collection).where(Collection.id == collection_id).values(**values))


async def platform_owner(world: World, kofi: PartyWallet) -> str:
    """Whose key space the platform key's Idempotency-Keys are in (what it creates names it)."""
    made = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn")))
    async with world.sessions() as session:
        owner = await session.scalar(sa.select(Collection.created_by).where(Collection.id == made.json()["id"]))
    return str(owner)


async def claimed_unanswered(world: World, owner: str, key: str, path: str, raw: bytes) -> None:
    """The claim a first phase commits with its recovery point, for this exact request."""
    async with db.transaction(world.sessions) as session:
        await session.execute(
            sa.text(
                "INSERT INTO idempotency_keys (owner, key, fingerprint, expires_at) "
                "VALUES (:owner, :key, :fingerprint, now() + interval '1 day')"
            ),
            {
                "owner": owner,
                "key": key,
                "fingerprint": idempotency_service.fingerprint(method="POST", path=path, body=raw),
            },
        )


async def post_raw(world: World, path: str, raw: bytes, key: str) -> httpx.Response:
    headers = {**world.platform, "Idempotency-Key": key, "content-type": "application/json"}
    return await world.client.post(path, content=raw, headers=headers)


def replayed_state(response: httpx.Response, status: int, shown: dict[str, Any]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.json() == shown


@pytest.fixture
async def providers(settings: Settings) -> AsyncIterator[CollectionRouter]:
    async with httpx.AsyncClient() as http:
        yield registry.build_router(settings, http)


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS + 1)


class TestCollectionCreate:
    async def test_a_retry_after_every_phase_committed_gets_the_collection(
        self, world: World, kofi: PartyWallet
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange"))
        first = await world.collect(body, key="crash-1")
        assert first.json()["status"] == "action_required"
        await as_if_killed(world, "crash-1")
        before = await world.footprint()

        retry = await world.collect(body, key="crash-1")
        replayed_state(retry, 201, await world.shown("collections", first.json()["id"]))
        assert await world.footprint() == before

    async def test_a_retry_within_the_lease_of_a_request_cut_short_gets_409_then_the_state_after_it(
        self, world: World, kofi: PartyWallet, settings: Settings
    ) -> None:
        owner = await platform_owner(world, kofi)
        # Killed while the provider was being called: the first phase's collection and claim.
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=AMOUNT, operator="orange")
        await set_row(world, collection_id, created_by=owner, idempotency_key="crash-2")
        raw = json.dumps(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange"))).encode()
        await claimed_unanswered(world, owner, "crash-2", "/v1/collections", raw)
        before = await world.footprint()

        early = await post_raw(world, "/v1/collections", raw, "crash-2")
        assert early.status_code == 409
        assert early.json()["code"] == "idempotency_key_in_flight"
        assert "cut short" in early.json()["detail"]
        assert await world.footprint() == before

        await as_if_killed(world, "crash-2", claimed_ago=lease(settings))
        late = await post_raw(world, "/v1/collections", raw, "crash-2")
        replayed_state(late, 201, await world.shown("collections", collection_id))
        assert late.json()["status"] == "initiated"
        assert await world.footprint() == before


class TestOtpSubmission:
    async def test_a_retry_after_every_phase_committed_gets_the_collection(
        self, world: World, kofi: PartyWallet
    ) -> None:
        started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
        collection_id = started.json()["id"]
        otp = f"/v1/collections/{collection_id}/otp"
        headers = {**world.platform, "Idempotency-Key": "otp-1"}
        done = await world.client.post(otp, json={"otp": OTP}, headers=headers)
        assert done.json()["status"] == "succeeded"
        await as_if_killed(world, "otp-1")
        before = await world.footprint()

        retry = await world.client.post(otp, json={"otp": OTP}, headers=headers)
        replayed_state(retry, 200, await world.shown("collections", collection_id))
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (AMOUNT, 0)

    async def test_a_submission_cut_short_answers_its_state_after_the_lease(
        self, world: World, kofi: PartyWallet, settings: Settings, providers: CollectionRouter
    ) -> None:
        started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
        collection_id = started.json()["id"]
        otp = f"/v1/collections/{collection_id}/otp"
        raw = json.dumps({"otp": OTP}).encode()
        # Killed before the provider was called: the first phase moved it to processing with the claim.
        await set_row(world, collection_id, status="processing", next_action=None, display_text=None)
        await claimed_unanswered(world, await platform_owner(world, kofi), "otp-2", otp, raw)
        before = await world.footprint()

        early = await post_raw(world, otp, raw, "otp-2")
        assert early.status_code == 409
        assert await world.footprint() == before
        await as_if_killed(world, "otp-2", claimed_ago=lease(settings))
        late = await post_raw(world, otp, raw, "otp-2")
        replayed_state(late, 200, await world.shown("collections", collection_id))
        assert late.json()["status"] == "processing"
        assert await world.footprint() == before

        # Reconciliation asks the customer again; the key now answers that, and a new key submits.
        await payments_service.reconcile(
            world.sessions, providers=providers, after_seconds=0, actor=system_actor("test"), clock=clock.now
        )
        settled = await post_raw(world, otp, raw, "otp-2")
        replayed_state(settled, 200, await world.shown("collections", collection_id))
        assert settled.json()["status"] == "action_required"
        done = await post_raw(world, otp, raw, "otp-3")
        assert done.json()["status"] == "succeeded"
        # Credited once, beside the MTN collection ``platform_owner`` made (reconciled meanwhile).
        assert await world.wallet(kofi) == (2 * AMOUNT, 0)


class TestPayoutCreate:
    async def test_a_retry_after_every_phase_committed_gets_the_payout(self, world: World, kofi: PartyWallet) -> None:
        await world.top_up(kofi, 10_000)
        body = payout_body(kofi, amount_minor=AMOUNT)
        first = await world.pay_out(body, key="pay-1")
        assert first.status_code == 201, first.text
        await as_if_killed(world, "pay-1")
        before = await world.footprint()

        retry = await world.pay_out(body, key="pay-1")
        replayed_state(retry, 201, await world.shown("payouts", first.json()["id"]))
        assert await world.footprint() == before
