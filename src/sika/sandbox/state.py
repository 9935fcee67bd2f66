"""The sandbox's memory: its settings, what each fake provider holds, and the
webhooks it sends (with their fate: delivered, failed, withheld).

Everything lives in one event loop, so no locks: a handler reads and writes
the state between awaits. Nothing survives a restart.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from fastapi.responses import JSONResponse

from sika.core import clock
from sika.core.config import Settings
from sika.sandbox import signing, wire
from sika.sandbox.scenarios import Scenario, for_number

log = structlog.get_logger(__name__)

DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS = (1.0, 5.0, 30.0)
WEBHOOK_TIMEOUT_SECONDS = 5.0
MAX_LISTED = 500
"""Longest list the admin endpoint returns (newest first)."""


class Answer(Exception):
    """A finished HTTP answer raised from deep inside a handler (auth, outage, bad input)."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class SandboxConfig:
    webhook_target: str
    """Base URL; a webhook for ``paystack`` goes to ``<webhook_target>/paystack``."""
    approval_delay_seconds: float
    latency_seconds: float
    no_answer_seconds: float
    webhook_late_seconds: float
    auto_approve: bool = True
    """Approve phone prompts by themselves after ``approval_delay_seconds``."""
    paystack_transfer_otp: bool = False
    """Paystack transfers wait for ``/transfer/finalize_transfer`` with an OTP."""
    stripe_search_lag_seconds: float = 1.0
    """How far Stripe's Search index lags behind writes: "under 1 minute" normally, up to
    an hour during an outage (https://docs.stripe.com/search#data-freshness)."""
    webhook_retry_delays_seconds: list[float] = field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_RETRY_DELAYS_SECONDS)
    )

    @classmethod
    def from_settings(cls, settings: Settings, *, webhook_target: str | None = None) -> SandboxConfig:
        target = webhook_target or settings.SANDBOX_WEBHOOK_TARGET or (settings.PUBLIC_URL.rstrip("/") + "/v1/webhooks")
        return cls(
            webhook_target=target,
            approval_delay_seconds=settings.SANDBOX_APPROVAL_DELAY_SECONDS,
            latency_seconds=settings.SANDBOX_LATENCY_SECONDS,
            no_answer_seconds=settings.SANDBOX_NO_ANSWER_SECONDS,
            webhook_late_seconds=settings.SANDBOX_WEBHOOK_LATE_SECONDS,
        )


@dataclass
class Payment:
    """A collection at one fake provider, in that provider's own words."""

    provider: str
    id: str
    """What the provider's API calls it: Paystack reference, FedaPay id, Stripe ``pi_…``."""
    numeric_id: int
    amount: int
    """In the provider's wire unit, as received."""
    currency: str
    status: str
    scenario: Scenario
    channel: str
    email: str
    number: str | None
    """The phone or card number that chose the scenario."""
    operator: str | None
    request: dict[str, Any]
    """The creating request's body, exactly as it arrived."""
    created_at: datetime
    merchant_reference: str | None = None
    paid_at: datetime | None = None
    gateway_response: str = ""
    error_code: str | None = None
    mode: str | None = None
    token: str | None = None
    return_url: str | None = None
    payment_method: str | None = None
    authorization_code: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_snapshot: dict[str, Any] | None = None
    """How the object looked when it was created (Stripe, for out-of-order webhooks)."""


@dataclass
class Payout:
    provider: str
    id: str
    numeric_id: int
    amount: int
    currency: str
    status: str
    scenario: Scenario
    number: str
    operator: str | None
    request: dict[str, Any]
    created_at: datetime
    reference: str
    recipient: dict[str, Any] = field(default_factory=dict)
    transfer_code: str | None = None
    reason: str = ""
    merchant_reference: str | None = None
    mode: str | None = None
    failures: str | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    """When its status last changed (Paystack's ``updatedAt``); None until it first does."""


@dataclass(frozen=True)
class Event:
    provider: str
    type: str
    reference: str
    """The object the event is about, as the provider names it."""
    payload: dict[str, Any]


@dataclass
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None


@dataclass
class Delivery:
    id: str
    provider: str
    event_type: str
    reference: str
    body: bytes
    """What is posted."""
    signed_body: bytes
    """What the signature covers; differs from ``body`` only for a tampered resend."""
    created_at: datetime
    note: str = ""
    status: str = "scheduled"
    """``scheduled``, ``delivered``, ``failed`` or ``withheld`` (never sent until released)."""
    target: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "event_type": self.event_type,
            "reference": self.reference,
            "status": self.status,
            "note": self.note,
            "target": self.target,
            "created_at": self.created_at.isoformat(),
            "headers": self.headers,
            "payload": json.loads(self.body),
            "tampered": self.body != self.signed_body,
            "attempts": [
                {"at": a.at.isoformat(), "status_code": a.status_code, "error": a.error} for a in self.attempts
            ],
        }


def with_amount(provider: str, payload: dict[str, Any], amount: int) -> dict[str, Any]:
    """A copy of an event payload that states another amount, where that provider puts it."""
    changed = copy.deepcopy(payload)
    keys: tuple[str, ...]
    if provider == wire.PAYSTACK:
        target = changed["data"]
        keys = ("amount", "requested_amount")
    elif provider == wire.FEDAPAY:
        target = changed["entity"]
        keys = ("amount",)
    else:
        target = changed["data"]["object"]
        keys = ("amount", "amount_received")
    for key in keys:
        if key in target:
            target[key] = amount
    return changed


def event_amount(provider: str, payload: dict[str, Any]) -> int:
    if provider == wire.PAYSTACK:
        return int(payload["data"]["amount"])
    if provider == wire.FEDAPAY:
        return int(payload["entity"]["amount"])
    return int(payload["data"]["object"]["amount"])


class Sandbox:
    def __init__(self, settings: Settings, config: SandboxConfig) -> None:
        self.settings = settings
        self.config = config
        self._initial_config = copy.deepcopy(config)
        self.forced: dict[str, Scenario] = {}
        self.payments: dict[tuple[str, str], Payment] = {}
        self.payouts: dict[tuple[str, str], Payout] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.recipients: dict[str, dict[str, Any]] = {}
        self.authorizations: dict[str, str] = {}
        """Paystack authorisation code -> the card number it was issued for."""
        self.payment_methods: dict[str, str] = {}
        """Stripe payment method -> card number."""
        self.idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        """Stripe Idempotency-Key -> (request fingerprint, status code, body)."""
        self.stripe_keys_running: set[str] = set()
        """Stripe Idempotency-Keys whose first request is still running."""
        self.stripe_search_index: dict[str, dict[str, Any]] = {}
        """Stripe intent id -> the intent as Search sees it (``stripe_search_lag_seconds`` behind)."""
        # Counted from the clock in microseconds, not from a fixed number: a sandbox started
        # again over the same database (``sika run`` restarted) must not issue the ids of
        # transactions and events Sika already stored, or its webhooks are taken for
        # duplicates, as the real providers' ids never repeat. 16 digits stay within a
        # JavaScript number, as Paystack's and FedaPay's integer ids do.
        self._numbers = itertools.count(int(clock.now().timestamp() * 1_000_000))
        self._tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient | None = None

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.config = copy.deepcopy(self._initial_config)
        self.forced.clear()
        self.payments.clear()
        self.payouts.clear()
        self.deliveries.clear()
        self.recipients.clear()
        self.authorizations.clear()
        self.payment_methods.clear()
        self.idempotency.clear()
        self.stripe_keys_running.clear()
        self.stripe_search_index.clear()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def next_number(self) -> int:
        return next(self._numbers)

    @staticmethod
    def token(prefix: str, length: int = 12) -> str:
        return prefix + secrets.token_hex(length // 2 + 1)[:length]

    def scenario(self, provider: str, number: str | None) -> Scenario:
        """A scenario forced on the provider wins over the number's."""
        return self.forced.get(provider) or for_number(number)

    def is_down(self, provider: str) -> bool:
        return self.forced.get(provider) is Scenario.outage

    async def delay_before(self, scenario: Scenario) -> None:
        if scenario is Scenario.latency:
            await asyncio.sleep(self.config.latency_seconds)

    async def delay_answer(self, scenario: Scenario) -> None:
        if scenario is Scenario.no_answer:
            await asyncio.sleep(self.config.no_answer_seconds)

    def later(self, delay_seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` in the background after ``delay_seconds``."""

        async def run() -> None:
            await asyncio.sleep(delay_seconds)
            await action()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox.background_failed", error=repr(task.exception()))

    async def announce(
        self,
        scenario: Scenario,
        final: Event,
        *,
        currency: str,
        earlier: Event | None = None,
        wait: bool = False,
    ) -> list[Delivery]:
        """Send the webhook(s) for an operation's outcome, as ``scenario`` says.

        ``earlier`` is an event for a previous state of the same object, sent
        after ``final`` when webhooks arrive out of order. With ``wait`` the
        webhooks are delivered before this returns (before the API answers)."""
        provider = final.provider
        payload = final.payload
        note = ""
        if scenario is Scenario.webhook_amount_mismatch:
            stated = event_amount(provider, payload) - wire.unit(provider, currency)
            payload = with_amount(provider, payload, stated)
            note = "amount differs from the operation's"
        first = self._record(provider, final.type, final.reference, payload, note=note)
        batch = [first]
        delay = 0.0
        if scenario is Scenario.webhook_never:
            first.status = "withheld"
            first.note = "never sent (release it from the admin endpoint)"
            return batch
        if scenario is Scenario.webhook_duplicate:
            batch.append(self._record(provider, final.type, final.reference, payload, note=f"duplicate of {first.id}"))
        elif scenario is Scenario.webhook_late:
            delay = self.config.webhook_late_seconds
            first.note = f"late by {delay} s"
        elif scenario is Scenario.webhook_out_of_order and earlier is not None:
            batch.append(
                self._record(
                    provider,
                    earlier.type,
                    earlier.reference,
                    earlier.payload,
                    note=f"stale: an earlier state, sent after {first.id}",
                )
            )
        if wait:
            for delivery in batch:
                await self.deliver(delivery)
        else:
            self.later(delay, lambda: self._deliver_all(batch))
        return batch

    def resend(self, delivery: Delivery, *, tamper_amount: bool) -> Delivery:
        """Send a delivery's event again: a duplicate, or with its amount changed after signing."""
        payload = json.loads(delivery.body)
        signed_body = delivery.signed_body
        note = f"resent copy of {delivery.id}"
        body = delivery.body
        if tamper_amount:
            amount = event_amount(delivery.provider, payload) + 1
            body = _encode(with_amount(delivery.provider, payload, amount))
            note = f"copy of {delivery.id} with its amount changed after signing"
        copy_ = Delivery(
            id=self.token("whd_", 16),
            provider=delivery.provider,
            event_type=delivery.event_type,
            reference=delivery.reference,
            body=body,
            signed_body=signed_body,
            created_at=clock.now(),
            note=note,
        )
        self.deliveries[copy_.id] = copy_
        self.later(0.0, lambda: self.deliver(copy_))
        return copy_

    def release(self, delivery: Delivery) -> None:
        delivery.status = "scheduled"
        self.later(0.0, lambda: self.deliver(delivery))

    async def _deliver_all(self, batch: list[Delivery]) -> None:
        for delivery in batch:
            await self.deliver(delivery)

    async def deliver(self, delivery: Delivery) -> None:
        assert self.client is not None, "the sandbox's HTTP client starts with the app"
        target = f"{self.config.webhook_target.rstrip('/')}/{delivery.provider}"
        delivery.target = target
        for delay in (0.0, *self.config.webhook_retry_delays_seconds):
            if delay:
                await asyncio.sleep(delay)
            timestamp = int(clock.now().timestamp())
            headers = signing.headers(
                delivery.provider,
                body=delivery.signed_body,
                settings=self.settings,
                timestamp=timestamp,
            )
            delivery.headers = headers
            try:
                response = await self.client.post(
                    target,
                    content=delivery.body,
                    headers={"Content-Type": "application/json", **headers},
                    timeout=httpx.Timeout(WEBHOOK_TIMEOUT_SECONDS),
                )
            except httpx.HTTPError as exc:
                delivery.attempts.append(Attempt(clock.now(), None, type(exc).__name__))
                continue
            delivery.attempts.append(Attempt(clock.now(), response.status_code, None))
            if 200 <= response.status_code < 300:
                delivery.status = "delivered"
                return
        delivery.status = "failed"
        log.warning("sandbox.webhook_failed", delivery=delivery.id, target=target)

    def _record(
        self, provider: str, event_type: str, reference: str, payload: dict[str, Any], *, note: str
    ) -> Delivery:
        body = _encode(payload)
        delivery = Delivery(
            id=self.token("whd_", 16),
            provider=provider,
            event_type=event_type,
            reference=reference,
            body=body,
            signed_body=body,
            created_at=clock.now(),
            note=note,
        )
        self.deliveries[delivery.id] = delivery
        return delivery


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
