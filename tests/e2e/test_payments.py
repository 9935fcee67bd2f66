"""Collections, payouts and webhooks end to end: the API and a worker as real
processes, the PSP sandbox over real HTTP posting its webhooks to the API.

Each test works with a party and wallet of its own, ends with the wallet
exact and ``sika check`` clean, and leaves the stack running for the next
(a test that kills a process starts it again)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.auth.scopes import Scope
from sika.core import db
from sika.sandbox import signing
from tests.conftest import make_key
from tests.support import database
from tests.support import idempotency as idempotency_hooks
from tests.support.factories import PartyWallet, top_up
from tests.support.payments import (
    OTP,
    SUCCESS_PHONE,
    alerts_for,
    collection_body,
    count,
    mobile_money,
    payer,
    payout_body,
    wallet_state,
)
from tests.support.sandbox import eventually, sandbox_settings
from tests.support.stack import Stack, live_stack

AMOUNT = 5_000
FUNDS = 12_000
WAIT_SECONDS = 30.0
NUDGE_SECONDS = 2.0
"""How often a test defers a periodic job again while it waits for its effect."""


@pytest.fixture(scope="module")
def e2e_database(pg_url: str, template_db: str) -> Iterator[str]:
    with database.fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture(scope="module")
async def e2e_sessions(e2e_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.make_engine(e2e_database, pool_size=2, max_overflow=4)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def stack(e2e_database: str) -> Iterator[Stack]:
    with live_stack(e2e_database) as running:
        running.start_api()
        running.start_worker()
        yield running


@pytest.fixture(autouse=True)
def running(stack: Stack) -> Stack:
    """The stack with its API and worker up (a previous test may have killed
    one) and the sandbox emptied, its settings as they started."""
    if stack.api is None or not stack.api.alive():
        stack.start_api()
    if stack.worker is None or not stack.worker.alive():
        stack.start_worker()
    with stack.sandbox_admin() as admin:
        admin.post("/reset").raise_for_status()
    return stack


@pytest.fixture(scope="module")
async def keys(e2e_sessions: async_sessionmaker[AsyncSession]) -> dict[str, dict[str, str]]:
    return {
        scope.value: {"Authorization": f"Bearer {await make_key(e2e_sessions, scope)}"}
        for scope in (Scope.admin, Scope.platform, Scope.support)
    }


@pytest.fixture
def platform(keys: dict[str, dict[str, str]]) -> dict[str, str]:
    return keys["platform"]


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, event_hooks=idempotency_hooks.HOOKS) as client:
        yield client


@pytest.fixture
async def ama(api: httpx.AsyncClient, platform: dict[str, str]) -> PartyWallet:
    return await payer(api, platform)


def assert_check_clean(stack: Stack) -> None:
    checked = stack.sika_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The ledger's invariants hold." in checked.stdout


async def collection_status(api: httpx.AsyncClient, headers: dict[str, str], collection_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/collections/{collection_id}", headers=headers)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


async def reached(
    api: httpx.AsyncClient, headers: dict[str, str], collection_id: str, status: str
) -> dict[str, Any] | None:
    """The collection, if it is ``status`` now."""
    shown = await collection_status(api, headers, collection_id)
    return shown if shown["status"] == status else None


async def reaches(api: httpx.AsyncClient, headers: dict[str, str], collection_id: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = await eventually(
        lambda: reached(api, headers, collection_id, status),
        timeout_seconds=WAIT_SECONDS,
        what=f"{collection_id} {status}",
    )
    return found


async def payout_reaches(api: httpx.AsyncClient, headers: dict[str, str], payout_id: str, status: str) -> None:
    async def check() -> bool:
        return bool((await api.get(f"/v1/payouts/{payout_id}", headers=headers)).json()["status"] == status)

    await eventually(check, timeout_seconds=WAIT_SECONDS, what=f"{payout_id} {status}")


async def processed(sessions: async_sessionmaker[AsyncSession], reference: str, expected: int) -> None:
    """Wait until ``expected`` webhooks about ``reference`` have been processed."""

    async def check() -> bool:
        done = await count(sessions, "webhooks_inbound_events", "reference = :r AND status = 'processed'", r=reference)
        return done == expected

    await eventually(check, timeout_seconds=WAIT_SECONDS, what=f"{expected} webhooks about {reference} processed")


async def credits(sessions: async_sessionmaker[AsyncSession], collection_id: str) -> int:
    return await count(sessions, "ledger_transfers", "id = :id", id=f"{collection_id}.credit")


async def defer(database_url: str, task: str, **kwargs: Any) -> None:
    """Queue a job for the stack's worker, as the scheduler or an operator would."""
    app = jobs_worker.build(database_url)
    async with app.open_async():
        await app.configure_task(task).defer_async(**kwargs)


def stop_worker(stack: Stack) -> None:
    """Stop a worker started with special settings; the next test starts a plain one."""
    if stack.worker is not None:
        stack.worker.stop()


async def nudged_until(
    reached: Callable[[], Awaitable[Any]], nudge: Callable[[], Awaitable[None]], *, what: str
) -> Any:
    """Run ``nudge`` (defer a periodic job, as the scheduler would each minute) every
    NUDGE_SECONDS until ``reached()`` is truthy: the job may run before what it acts on
    is ripe (a dead worker's heartbeat not yet stale), and then it simply runs again."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        await nudge()
        try:
            return await eventually(reached, timeout_seconds=NUDGE_SECONDS, what=what)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def sandbox_webhooks(stack: Stack, reference: str) -> list[dict[str, Any]]:
    """What the sandbox sent (or withheld) about ``reference``."""
    with stack.sandbox_admin() as admin:
        found: list[dict[str, Any]] = admin.get("/webhooks", params={"reference": reference}).json()
    return found


async def withheld_webhooks(stack: Stack, reference: str) -> list[dict[str, Any]]:
    """The webhooks the sandbox holds back about ``reference`` (scenario webhook_never), once it has them."""

    async def check() -> list[dict[str, Any]]:
        return [w for w in await asyncio.to_thread(sandbox_webhooks, stack, reference) if w["status"] == "withheld"]

    found: list[dict[str, Any]] = await eventually(check, timeout_seconds=WAIT_SECONDS, what=f"{reference}'s webhook")
    return found


def sandbox_payments(stack: Stack) -> list[dict[str, Any]]:
    with stack.sandbox_admin() as admin:
        listed: list[dict[str, Any]] = admin.get("/payments").json()
    return listed


class TestOperatorFlows:
    async def test_orange_money_with_an_otp(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("orange"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert collection["next_action"]["type"] == "submit_otp"
        done = await api.post(f"/v1/collections/{collection['id']}/otp", json={"otp": OTP}, headers=platform)
        assert done.json()["status"] == "succeeded"
        # The charge.success webhook follows and is processed by the worker: it changes nothing.
        await processed(e2e_sessions, collection["id"], 1)
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert await credits(e2e_sessions, collection["id"]) == 1
        assert_check_clean(stack)

    async def test_mtn_with_an_approval_on_the_phone(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        with stack.sandbox_admin() as admin:
            # The customer approves when the test says, not while the API is still answering.
            admin.patch("/config", json={"auto_approve": False}).raise_for_status()
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "approve_on_phone"
        assert await wallet_state(api, platform, ama.wallet_id) == (0, 0)
        with stack.sandbox_admin() as admin:
            admin.post(f"/payments/paystack/{collection['id']}/complete", json={}).raise_for_status()
        await reaches(api, platform, collection["id"], "succeeded")
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)

    async def test_wave_with_a_redirect(
        self, stack: Stack, api: httpx.AsyncClient, platform: dict[str, str], ama: PartyWallet
    ) -> None:
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("wave"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert collection["next_action"]["type"] == "redirect"
        async with httpx.AsyncClient() as browser:
            assert (await browser.get(collection["next_action"]["redirect_url"])).status_code == 200
        await reaches(api, platform, collection["id"], "succeeded")
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)

    async def test_a_card_payment(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(ama, amount_minor=AMOUNT, method={"type": "card", "card_token": "pm_card_visa"})
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert (collection["status"], collection["provider"]) == ("succeeded", "stripe")
        await processed(e2e_sessions, collection["id"], 1)
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)

    async def test_a_paystack_outage_fails_over_to_fedapay(
        self, stack: Stack, api: httpx.AsyncClient, platform: dict[str, str], ama: PartyWallet
    ) -> None:
        with stack.sandbox_admin() as admin:
            admin.put("/scenarios/paystack", json={"scenario": "outage"}).raise_for_status()
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert collection["provider"] == "fedapay"
        await reaches(api, platform, collection["id"], "succeeded")
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)


class TestWebhookRaces:
    async def test_the_same_webhook_ten_times_in_parallel_credits_once(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        # The sandbox withholds this charge's webhook: the test delivers it, ten times at once.
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000064"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()

        (delivery,) = await withheld_webhooks(stack, collection["id"])
        raw = json.dumps(delivery["payload"], separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            **signing.headers("paystack", body=raw, settings=sandbox_settings(), timestamp=int(time.time())),
        }

        async def deliver_once() -> httpx.Response:
            async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as own_connection:
                return await own_connection.post("/v1/webhooks/paystack", content=raw, headers=headers)

        answers = await asyncio.gather(*(deliver_once() for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 9
        await reaches(api, platform, collection["id"], "succeeded")
        assert await count(e2e_sessions, "webhooks_inbound_events", "reference = :r", r=collection["id"]) == 1
        assert await credits(e2e_sessions, collection["id"]) == 1
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)

    async def test_a_webhook_that_arrives_before_the_api_call_returned_ends_consistent(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        # The sandbox delivers charge.success to Sika before it answers the charge call.
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000063"))
        answer = await api.post("/v1/collections", json=body, headers=platform)
        assert answer.status_code == 201
        collection = answer.json()
        assert collection["status"] in ("action_required", "succeeded")
        await reaches(api, platform, collection["id"], "succeeded")
        assert await credits(e2e_sessions, collection["id"]) == 1
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        events = await api.get(
            "/v1/events", params={"entity_id": collection["id"], "order": "oldest"}, headers=platform
        )
        types = [event["type"] for event in events.json()["data"]]
        assert types[0] == "collection.initiated"
        assert types[-1] == "collection.succeeded"
        assert types.count("collection.succeeded") == 1
        assert_check_clean(stack)

    async def test_a_webhook_stating_another_amount_credits_nothing_and_raises_an_alert(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000065"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        shown = await reaches(api, platform, collection["id"], "amount_mismatch")
        assert shown["reported_amount_minor"] == AMOUNT - 1
        assert await wallet_state(api, platform, ama.wallet_id) == (0, 0)
        assert await alerts_for(e2e_sessions, collection["id"]) == [("collection.amount_mismatch", "critical")]
        assert_check_clean(stack)

    async def test_a_webhook_whose_amount_was_changed_after_signing_is_refused_and_alerted(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000064"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()

        (genuine,) = await withheld_webhooks(stack, collection["id"])
        with stack.sandbox_admin() as admin:
            tampered = admin.post(f"/webhooks/{genuine['id']}/resend", json={"tamper_amount": True}).json()

        def first_answer() -> int | None:
            for delivery in sandbox_webhooks(stack, collection["id"]):
                if delivery["id"] == tampered["id"] and delivery["attempts"]:
                    return int(delivery["attempts"][0]["status_code"])
            return None

        assert await eventually(lambda: asyncio.to_thread(first_answer), what="the tampered delivery") == 401
        assert await count(e2e_sessions, "webhooks_inbound_events", "reference = :r", r=collection["id"]) == 0
        assert ("webhook.signature_invalid", "critical") in await alerts_for(e2e_sessions, "paystack")
        assert (await collection_status(api, platform, collection["id"]))["status"] == "action_required"
        assert await wallet_state(api, platform, ama.wallet_id) == (0, 0)

        with stack.sandbox_admin() as admin:
            admin.post(f"/webhooks/{genuine['id']}/release").raise_for_status()
        await reaches(api, platform, collection["id"], "succeeded")
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)


class TestCrashes:
    async def test_a_worker_killed_while_processing_an_event_is_retried_and_credits_once(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        with stack.sandbox_admin() as admin:
            admin.patch("/config", json={"auto_approve": False}).raise_for_status()
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn"))
        collection = (await api.post("/v1/collections", json=body, headers=platform)).json()
        assert collection["status"] == "action_required"

        # Hold the collection's row lock, so the worker's processing waits inside its transaction.
        blocker = await psycopg.AsyncConnection.connect(db.libpq_url(stack.database_url))
        try:
            await blocker.execute("SELECT id FROM payments_collections WHERE id = %s FOR UPDATE", (collection["id"],))
            with stack.sandbox_admin() as admin:
                admin.post(f"/payments/paystack/{collection['id']}/complete", json={}).raise_for_status()
            await eventually(
                lambda: count(
                    e2e_sessions, "procrastinate_jobs", "task_name = 'webhooks.process_event' AND status = 'doing'"
                ),
                timeout_seconds=WAIT_SECONDS,
                what="the worker to be processing the event",
            )
            stack.kill_worker()
        finally:
            await blocker.rollback()
            await blocker.close()
        assert (await collection_status(api, platform, collection["id"]))["status"] == "action_required"

        stack.start_worker(JOBS_STALLED_AFTER_SECONDS="2")
        try:
            # Once the dead worker's heartbeat is stale, jobs.retry_stalled finds its job.
            await nudged_until(
                lambda: reached(api, platform, collection["id"], "succeeded"),
                lambda: defer(stack.database_url, "jobs.retry_stalled", timestamp=int(time.time())),
                what="the stalled event to be processed again",
            )
        finally:
            stop_worker(stack)
        assert await credits(e2e_sessions, collection["id"]) == 1
        assert await count(e2e_sessions, "webhooks_inbound_events", "reference = :r", r=collection["id"]) == 1
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)

    async def test_the_api_killed_between_two_phases_is_finished_by_reconciliation(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        platform: dict[str, str],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        with stack.sandbox_admin() as admin:
            # The customer approves only when told, and a webhook that finds Sika down is not sent again.
            admin.patch("/config", json={"auto_approve": False, "webhook_retry_delays_seconds": []})
        # The sandbox records this charge, then answers only after SANDBOX_NO_ANSWER_SECONDS.
        body = collection_body(ama, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000052"))
        outcome: dict[str, Any] = {}

        def post_collection() -> None:
            try:
                keyed = {**platform, "Idempotency-Key": "killed-between-phases"}
                httpx.post(f"{stack.api_url}/v1/collections", json=body, headers=keyed, timeout=30)
            except httpx.TransportError as exc:
                outcome["error"] = type(exc).__name__

        request = threading.Thread(target=post_collection)
        request.start()

        async def first_phase_committed() -> str | None:
            async with e2e_sessions() as session:
                found = await session.scalar(
                    sa.text("SELECT id FROM payments_collections WHERE wallet_id = :w AND status = 'initiated'"),
                    {"w": ama.wallet_id},
                )
            recorded = await asyncio.to_thread(sandbox_payments, stack)
            return str(found) if found is not None and recorded else None

        collection_id = await eventually(first_phase_committed, timeout_seconds=WAIT_SECONDS, what="phase 1")
        stack.kill_api()
        request.join(timeout=30)
        assert outcome.get("error"), "the request died with the API"

        with stack.sandbox_admin() as admin:
            admin.post(f"/payments/paystack/{collection_id}/complete", json={}).raise_for_status()
        stack.start_api()
        shown = await collection_status(api, platform, collection_id)
        assert (shown["status"], shown["provider"]) == ("initiated", None)
        assert await wallet_state(api, platform, ama.wallet_id) == (0, 0)

        stop_worker(stack)
        stack.start_worker(RECONCILE_AFTER_SECONDS="1")
        try:
            shown = await nudged_until(
                lambda: reached(api, platform, collection_id, "succeeded"),
                lambda: defer(stack.database_url, "payments.reconcile", timestamp=int(time.time())),
                what="reconciliation to finish the collection",
            )
        finally:
            stop_worker(stack)
        assert shown["provider"] == "paystack"
        assert await credits(e2e_sessions, collection_id) == 1
        assert await wallet_state(api, platform, ama.wallet_id) == (AMOUNT, 0)
        assert_check_clean(stack)


class TestPayouts:
    async def payout(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        keys: dict[str, dict[str, str]],
        who: PartyWallet,
        *,
        phone: str = SUCCESS_PHONE,
        outcome: str = "succeeded",
    ) -> dict[str, Any]:
        """A payout seen ``processing`` with its amount held, then completed at the sandbox with ``outcome``."""
        with stack.sandbox_admin() as admin:
            # The transfer completes when the test says, not while the API is still answering.
            admin.patch("/config", json={"approval_delay_seconds": 3600}).raise_for_status()
        await top_up(api, keys["admin"], who.wallet_id, FUNDS)
        response = await api.post(
            "/v1/payouts", json=payout_body(who, amount_minor=AMOUNT, phone=phone), headers=keys["platform"]
        )
        assert response.status_code == 201, response.text
        payout: dict[str, Any] = response.json()
        assert payout["status"] == "processing"
        assert await wallet_state(api, keys["platform"], who.wallet_id) == (FUNDS, AMOUNT)
        with stack.sandbox_admin() as admin:
            transfer = f"/payouts/paystack/{payout['provider_reference']}/complete"
            admin.post(transfer, json={"outcome": outcome}).raise_for_status()
        return payout

    async def test_a_payout_that_succeeds_leaves_the_wallet_exact(
        self, stack: Stack, api: httpx.AsyncClient, keys: dict[str, dict[str, str]], ama: PartyWallet
    ) -> None:
        payout = await self.payout(stack, api, keys, ama)
        await payout_reaches(api, keys["platform"], payout["id"], "succeeded")
        assert await wallet_state(api, keys["platform"], ama.wallet_id) == (FUNDS - AMOUNT, 0)
        assert_check_clean(stack)

    async def test_a_payout_that_fails_leaves_the_wallet_exact(
        self, stack: Stack, api: httpx.AsyncClient, keys: dict[str, dict[str, str]], ama: PartyWallet
    ) -> None:
        payout = await self.payout(stack, api, keys, ama, phone="+2250700000002", outcome="failed")
        await payout_reaches(api, keys["platform"], payout["id"], "failed")
        assert await wallet_state(api, keys["platform"], ama.wallet_id) == (FUNDS, 0)
        assert_check_clean(stack)

    async def test_a_payout_that_is_reversed_leaves_the_wallet_exact(
        self,
        stack: Stack,
        api: httpx.AsyncClient,
        keys: dict[str, dict[str, str]],
        ama: PartyWallet,
        e2e_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        payout = await self.payout(stack, api, keys, ama, phone="+2250700000063")
        await payout_reaches(api, keys["platform"], payout["id"], "reversed")
        # The stale transfer.success that follows the reversal changes nothing.
        await processed(e2e_sessions, payout["id"], 2)
        assert await count(e2e_sessions, "webhooks_inbound_events", "reference = :r", r=payout["id"]) == 2
        assert (await api.get(f"/v1/payouts/{payout['id']}", headers=keys["platform"])).json()["status"] == "reversed"
        assert await wallet_state(api, keys["platform"], ama.wallet_id) == (FUNDS, 0)
        assert_check_clean(stack)
