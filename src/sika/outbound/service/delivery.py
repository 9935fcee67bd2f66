"""Delivering events: fan-out (an event becomes a delivery per endpoint that wants
it), claiming due deliveries, sending one attempt, recording its outcome.

No transaction is open while a request is on the wire: a claim leases its
deliveries and commits, the attempts are made, then their outcomes are recorded.
A worker that dies in between leaves its deliveries leased; once the lease runs
out they are claimed again and sent with the same ``webhook-id`` (at least once).

Order per object: only the earliest pending delivery of an object (for one
endpoint) is ever claimed, so a later event waits while an earlier one is being
retried; other objects' events flow meanwhile. A delivery that failed for good
no longer holds up the next one."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.core import clock, db, webhook_signing
from sika.core.config import Environment, Settings
from sika.events import service as events_service
from sika.outbound import repository, safety
from sika.outbound.models import DeliveryStatus, Endpoint
from sika.outbound.service.endpoints import signing_secrets

log = structlog.get_logger(__name__)

FAN_OUT_BATCH = 5_000
"""Event ``seq`` values one endpoint's fan-out covers per pass."""
FAN_OUT_ENDPOINTS = 100
LANE_LENGTH = 20
"""Events of one object a pass sends one after another, each once the one before was delivered."""
LEASE_MARGIN_SECONDS = 5.0
"""A claimed delivery is presumed lost this long after its attempt could have timed out."""
MAX_RESPONSE_BYTES = 1024
"""Of an endpoint's answer, only this much is read (and the first part kept in the log)."""
KEPT_RESPONSE_CHARS = 1000
USER_AGENT = "Sika-Webhooks/1"


@dataclass(frozen=True)
class Message:
    """One attempt to make: everything it needs, read before the transaction ends."""

    delivery_id: str
    endpoint_id: str
    entity_id: str
    url: str
    msg_id: str
    body: bytes
    secrets: list[str]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None = None
    response: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def fan_out(session: AsyncSession, *, now: datetime) -> int:
    """Deliveries for the events that appeared since each enabled endpoint's cursor; how many."""
    made = 0
    for endpoint in await repository.endpoints_to_fan_out(session, limit=FAN_OUT_ENDPOINTS):
        made += await _fan_out_one(session, endpoint, now=now)
    return made


async def _fan_out_one(session: AsyncSession, endpoint: Endpoint, *, now: datetime) -> int:
    # Event seqs are handed out before their transactions commit, so a lower one may still
    # appear after a higher one is seen. The cursor passes a seq only once every transaction
    # that was running when that seq was the last handed out has ended (the horizon); above
    # it, events that already have their delivery are skipped, so nothing is made twice and
    # a long transaction elsewhere holds the cursor back without holding deliveries back.
    xmin, xmax, last_seq = await repository.snapshot_bounds(session)
    made, read = await repository.fan_out(session, endpoint=endpoint, limit=FAN_OUT_BATCH, now=now)
    if endpoint.horizon_xid is not None and xmin < endpoint.horizon_xid:
        return made
    if endpoint.horizon_seq is not None and read < FAN_OUT_BATCH:
        endpoint.fanned_out_seq = max(endpoint.fanned_out_seq, endpoint.horizon_seq)
    endpoint.horizon_seq, endpoint.horizon_xid = last_seq, xmax
    return made


def body_of(event_id: str, type_: str, occurred_at: datetime, data: object, seq: int) -> bytes:
    """The event as a platform receives it."""
    document = {"id": event_id, "type": type_, "created_at": occurred_at.isoformat(), "data": data, "sequence": seq}
    return json.dumps(document, separators=(",", ":")).encode()


async def claim(
    session: AsyncSession, *, settings: Settings, now: datetime, lane: tuple[str, str] | None = None
) -> list[Message]:
    """Due deliveries (one per object: ``OUTBOUND_CONCURRENCY`` objects, or the next of
    one ``lane``, an endpoint and an object), leased to this worker, with what their
    attempts need."""
    lease = now + timedelta(seconds=settings.OUTBOUND_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    if lane is None:
        claimed = await repository.claim_due(session, now=now, lease_until=lease, limit=settings.OUTBOUND_CONCURRENCY)
    else:
        following = await repository.claim_next_of(
            session, endpoint_id=lane[0], entity_id=lane[1], now=now, lease_until=lease
        )
        claimed = [following] if following else []
    if not claimed:
        return []
    messages = []
    for delivery, event, endpoint in await repository.deliveries_with_events(session, claimed):
        messages.append(
            Message(
                delivery_id=delivery.id,
                endpoint_id=endpoint.id,
                entity_id=delivery.entity_id,
                url=endpoint.url,
                msg_id=event.id,
                body=body_of(event.id, event.type, event.occurred_at, event.data, event.seq),
                secrets=signing_secrets(endpoint, settings=settings, now=now),
            )
        )
    return messages


async def send(client: httpx.AsyncClient, message: Message, *, settings: Settings, timestamp: int) -> Outcome:
    """One attempt: signed, redirects not followed, within the total timeout, the answer read
    up to ``MAX_RESPONSE_BYTES``."""
    started = time.monotonic()
    try:
        target = await safety.target(message.url, production=settings.ENV is Environment.production)
        url, headers, extensions = _pinned(target)
        headers |= webhook_signing.headers(
            message.secrets, msg_id=message.msg_id, timestamp=timestamp, body=message.body
        )
        headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
        async with asyncio.timeout(settings.OUTBOUND_TIMEOUT_SECONDS):
            request = client.build_request("POST", url, content=message.body, headers=headers, extensions=extensions)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                excerpt = await _excerpt(response)
            finally:
                await response.aclose()
    except safety.EndpointUrlRefused:
        return Outcome(status_code=None, latency_ms=_since(started), error="address refused: not a public address")
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(status_code=None, latency_ms=_since(started), error="timed out")
    except httpx.HTTPError as exc:
        return Outcome(status_code=None, latency_ms=_since(started), error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status_code=response.status_code, latency_ms=_since(started), response=excerpt)


def _pinned(target: safety.Target) -> tuple[str, dict[str, str], dict[str, object]]:
    """The URL to connect to: in production the checked address itself, the name kept for
    the Host header and TLS (SNI and the certificate's check), so that the name cannot be
    resolved anew, elsewhere, between the check and the connection."""
    if target.address is None:
        return target.url, {}, {}
    parts = urlsplit(target.url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    netloc = f"{address}:{parts.port}" if parts.port else address
    return urlunsplit(parts._replace(netloc=netloc)), {"host": parts.netloc}, {"sni_hostname": target.host}


async def _excerpt(response: httpx.Response) -> str:
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= MAX_RESPONSE_BYTES:
            break
    return kept[:MAX_RESPONSE_BYTES].decode(errors="replace")[:KEPT_RESPONSE_CHARS]


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def record(
    session: AsyncSession, *, message: Message, outcome: Outcome, settings: Settings, now: datetime
) -> None:
    """The attempt's outcome on its delivery: delivered, retried later, or failed for good
    (an alert, and the endpoint disabled if every delivery has failed for too long)."""
    delivery = await repository.get_delivery(
        session, endpoint_id=message.endpoint_id, delivery_id=message.delivery_id, for_update=True
    )
    if delivery is None or delivery.status != DeliveryStatus.pending.value:
        return  # deleted meanwhile, or retried and already settled by another attempt
    delivery.leased_until = None
    delivery.last_status_code = outcome.status_code
    delivery.last_latency_ms = outcome.latency_ms
    delivery.last_error = outcome.error
    delivery.last_response = outcome.response
    delivery.updated_at = now
    # The endpoint's row is written only when its failing state changes, and locked only to
    # disable it: deliveries to one endpoint, recorded side by side, do not queue on it.
    if outcome.succeeded:
        delivery.status = DeliveryStatus.succeeded.value
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        await repository.mark_succeeding(session, endpoint_id=message.endpoint_id)
        return
    await repository.mark_failing(session, endpoint_id=message.endpoint_id, now=now)
    delays = settings.OUTBOUND_RETRY_DELAYS_SECONDS
    if delivery.attempts < len(delays):
        delivery.next_attempt_at = now + timedelta(seconds=delays[delivery.attempts])
        return
    delivery.status = DeliveryStatus.failed.value
    delivery.next_attempt_at = None
    endpoint = await repository.get_endpoint(session, message.endpoint_id, for_update=True)
    if endpoint is None:
        return
    log.warning("webhook_delivery_failed", delivery_id=delivery.id, endpoint_id=endpoint.id)
    if not await alerts_service.has_open(session, kind="outbound.delivery_failed", entity_id=endpoint.id):
        await alerts_service.raise_alert(
            session,
            kind="outbound.delivery_failed",
            message=f"A webhook to {endpoint.url} failed after {delivery.attempts} attempts",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            data={"delivery_id": delivery.id, "event_id": delivery.event_id},
            platform_id=endpoint.platform_id,
        )
    failing_for = now - (endpoint.failing_since or now)
    if endpoint.enabled and failing_for >= timedelta(seconds=settings.OUTBOUND_DISABLE_AFTER_SECONDS):
        await _disable(session, endpoint, now=now)


async def _disable(session: AsyncSession, endpoint: Endpoint, *, now: datetime) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = "every delivery failed for too long"
    endpoint.updated_at = now
    await alerts_service.raise_alert(
        session,
        kind="outbound.endpoint_disabled",
        severity="critical",
        message=f"Webhook endpoint {endpoint.url} was disabled: every delivery failed since {endpoint.failing_since}",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        platform_id=endpoint.platform_id,
    )
    await events_service.emit(
        session,
        type="webhook_endpoint.disabled",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        data={"id": endpoint.id, "url": endpoint.url, "enabled": False, "disabled_reason": endpoint.disabled_reason},
        platform_id=endpoint.platform_id,
        now=now,
    )


@dataclass(frozen=True)
class Pumped:
    fanned_out: int
    attempted: int
    delivered: int


async def pump_once(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, client: httpx.AsyncClient
) -> Pumped:
    """One pass: fan out new events, claim the first due event of up to
    ``OUTBOUND_CONCURRENCY`` objects, and for each object (a lane) send it, record the
    outcome, and while they are delivered go on with that object's next events, one after
    another, up to ``LANE_LENGTH``. Never are two events of one object on the wire at once."""
    async with db.transaction(sessions) as session:
        fanned = await fan_out(session, now=clock.now())
    async with db.transaction(sessions) as session:
        heads = await claim(session, settings=settings, now=clock.now())
    lanes = await asyncio.gather(*(_lane(sessions, head, settings=settings, client=client) for head in heads))
    return Pumped(fanned_out=fanned, attempted=sum(made for made, _ in lanes), delivered=sum(done for _, done in lanes))


async def _lane(
    sessions: async_sessionmaker[AsyncSession], head: Message, *, settings: Settings, client: httpx.AsyncClient
) -> tuple[int, int]:
    """One object's events in order, from ``head``; (attempts made, delivered)."""
    message: Message | None = head
    attempted = delivered = 0
    while message is not None:
        outcome = await send(client, message, settings=settings, timestamp=int(clock.now().timestamp()))
        async with db.transaction(sessions) as session:
            await record(session, message=message, outcome=outcome, settings=settings, now=clock.now())
        attempted += 1
        delivered += outcome.succeeded
        if not outcome.succeeded or attempted >= LANE_LENGTH:
            break
        async with db.transaction(sessions) as session:
            following = await claim(
                session, settings=settings, now=clock.now(), lane=(message.endpoint_id, message.entity_id)
            )
        message = following[0] if following else None
    return attempted, delivered
