"""Inbound webhooks: verify, store raw, acknowledge; then process in a job
(the money rules in docs/architecture.md).

Intake (the HTTP request, one transaction):

1. the signature is checked with the provider's secret (a missing secret
   rejects the webhook; production refuses to start without one);
2. the body is read into a ``ProviderEvent`` for its id and type;
3. it is stored under the unique (provider, event id), and its processing job
   is deferred by the same statement (procrastinate's own SQL function, called
   only for a row the insert returns). A duplicate stores nothing, defers
   nothing, and is answered 200 like the first.

Processing (the job ``webhooks.process_event``, queue ``webhooks``) applies
the event to its collection or payout through ``sika.payments.service``,
under that row's lock, in one transaction with the event's own status. A
failed attempt is recorded on the event and the job deferred again after the
next of ``WEBHOOK_RETRY_DELAYS_SECONDS``; when they run out the event is
marked ``failed`` and an alert raised. An event naming no known collection or
payout is kept as ``unmatched`` and alerted: never dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.audit import service as audit_service
from sika.core import errors, ids, paging, text
from sika.core.config import Settings
from sika.core.context import Actor
from sika.jobs import app as jobs_app
from sika.payments import service as payments_service
from sika.providers import base as provider_base
from sika.providers import errors as provider_errors
from sika.providers import events as provider_events
from sika.providers import signatures
from sika.webhooks import repository, schemas
from sika.webhooks.models import InboundEvent

log = structlog.get_logger(__name__)

PROCESS_EVENT_TASK = "webhooks.process_event"
WEBHOOKS_QUEUE = "webhooks"
MAX_ERROR_LENGTH = 2000


class UnknownProvider(errors.NotFound):
    """Sika takes webhooks from paystack, fedapay and stripe only."""

    code = "webhook_provider_unknown"


class InboundEventNotFound(errors.NotFound):
    """No such webhook event."""

    code = "webhook_event_not_found"


class InboundEventNotRetryable(errors.Conflict):
    """Only a failed or unmatched webhook event can be processed again."""

    code = "webhook_event_not_retryable"


ALERTED_REFUSALS = frozenset({"signature_mismatch", "timestamp_outside_tolerance", "secret_not_configured"})
"""Refusals an operator must hear about: a forged or replayed webhook, or a wrong or
missing secret (every genuine webhook refused). A missing header is left to the logs."""


@dataclass(frozen=True)
class Received:
    id: str
    """The stored event's id (``whe_…``); for a duplicate, the one stored first."""
    duplicate: bool


@dataclass(frozen=True)
class Refused:
    """The signature does not hold: nothing was stored, and the caller answers 401."""

    error: provider_errors.WebhookSignatureInvalid


async def receive(
    session: AsyncSession,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    now: datetime,
    admit: Callable[[str], Awaitable[None]] | None = None,
) -> Received | Refused:
    """Store a verified webhook and defer its processing. A refused signature
    stores nothing; when it looks like forgery or a wrong secret an alert is
    raised (one per provider until acknowledged), committed with the answer.

    ``admit(provider)`` runs once the signature holds and before anything is
    stored: the API's per-provider rate limit, which only the provider can spend."""
    try:
        name = provider_base.ProviderName(provider)
    except ValueError:
        raise UnknownProvider() from None
    try:
        signatures.verify(name, body=body, headers=headers, settings=settings, now=now)
    except provider_errors.WebhookSignatureInvalid as exc:
        log.warning("webhook.refused", provider=name.value, reason=exc.reason)
        if exc.reason in ALERTED_REFUSALS:
            await _alert_refusal(session, name, exc)
        return Refused(exc)
    if admit is not None:
        await admit(name.value)
    event, problem = read_event(name, body, now=now)
    # A readable event's job is deferred in the statement that stores it; an unreadable one waits for a human.
    job = jobs_app.to_defer(PROCESS_EVENT_TASK, event_id=event.id) if problem is None else None
    if not await repository.insert_if_new(session, event, then_defer=job):
        log.info("webhook.duplicate", provider=name.value, event_id=event.event_id)
        return Received(
            id=await repository.id_of(session, provider=name.value, event_id=event.event_id), duplicate=True
        )
    log.info("webhook.stored", provider=name.value, event_id=event.event_id, id=event.id, status=event.status)
    if problem is not None:
        await alerts_service.raise_alert(
            session,
            kind="webhook.unreadable",
            severity="critical",
            message=f"A signed {name.value} webhook could not be read: {problem}",
            entity_type="webhook_event",
            entity_id=event.id,
            data={"provider": name.value},
            platform_id=None,
        )
    return Received(id=event.id, duplicate=False)


async def _alert_refusal(
    session: AsyncSession, name: provider_base.ProviderName, exc: provider_errors.WebhookSignatureInvalid
) -> None:
    """One alert per provider until acknowledged: a flood of forgeries raises one."""
    if await alerts_service.has_open(session, kind="webhook.signature_invalid", entity_id=name.value):
        return
    await alerts_service.raise_alert(
        session,
        kind="webhook.signature_invalid",
        severity="critical",
        message=(
            f"A webhook posted as {name.value} was refused ({exc.reason}): forged, replayed, or "
            "signed with another secret than Sika's. Further refusals raise no alert until this one "
            "is acknowledged."
        ),
        entity_type="webhook_provider",
        entity_id=name.value,
        data={"reason": exc.reason},
        platform_id=None,
    )


def read_event(
    name: provider_base.ProviderName, body: bytes, *, now: datetime
) -> tuple[repository.NewEvent, str | None]:
    """The event to store for a signed body, and why it could not be read if it
    could not (then it is stored ``rejected``, under a digest of the body)."""
    status = schemas.EventStatus.received
    problem: str | None = None
    try:
        parsed = provider_events.parse(name, body)
        event_id, event_type = parsed.event_id, parsed.event_type
        subject = parsed.subject.value if parsed.subject else None
        reference = parsed.reference[:200] if parsed.reference else None
    except provider_errors.ProviderError as exc:
        # Signed by the provider, so authentic, but not what it documents: kept for a human. The
        # detail may quote the body, whose text PostgreSQL may not store (the body itself is bytes).
        status, problem = schemas.EventStatus.rejected, text.storable(exc.detail)
        event_id, event_type = provider_events.digest(body), "unreadable"
        subject = reference = None
    event = repository.NewEvent(
        id=ids.new_id("whe"),
        provider=name.value,
        event_id=event_id,
        event_type=event_type[:100],
        body=body,
        status=status.value,
        subject=subject,
        reference=reference,
        last_error=problem[:MAX_ERROR_LENGTH] if problem else None,
        received_at=now,
        processed_at=now if status is schemas.EventStatus.rejected else None,
    )
    return event, problem


async def process(session: AsyncSession, *, event_id: str, now: datetime, actor: Actor) -> str:
    """Apply a stored event to what it is about; returns the event's status.
    An event already processed is left alone (its job ran twice)."""
    # What this event changes names it as its cause, where an API call names its request.
    actor = dataclasses.replace(actor, request_id=event_id)
    event = await repository.get_for_update(session, event_id)
    if event is None or event.status != schemas.EventStatus.received.value:
        return event.status if event is not None else "missing"
    parsed = provider_events.parse(provider_base.ProviderName(event.provider), event.body)
    if parsed.subject is None:
        return _finish(event, schemas.EventStatus.ignored, now=now)
    applied: payments_service.Applied | None = None
    if parsed.reference is not None:
        try:
            if parsed.subject is provider_events.EventSubject.collection:
                collection, applied = await payments_service.apply_collection_update(
                    session,
                    collection_id=parsed.reference,
                    update=payments_service.collection_update_from_event(parsed),
                    now=now,
                    actor=actor,
                )
                # The event now belongs to the platform of what it is about.
                event.platform_id = collection.platform_id
            else:
                payout, applied = await payments_service.apply_payout_update(
                    session,
                    payout_id=parsed.reference,
                    update=payments_service.payout_update_from_event(parsed),
                    now=now,
                    actor=actor,
                )
                event.platform_id = payout.platform_id
        except (payments_service.CollectionNotFound, payments_service.PayoutNotFound):
            applied = None
    if applied is None:
        await alerts_service.raise_alert(
            session,
            kind="webhook.unknown_reference",
            severity="warning",
            message=(
                f"A {event.provider} {parsed.event_type} webhook names no known {parsed.subject.value}"
                f" (reference {parsed.reference!r}); it is kept as event {event.id}."
            ),
            entity_type="webhook_event",
            entity_id=event.id,
            data={"provider": event.provider, "event_type": parsed.event_type, "reference": parsed.reference},
            platform_id=None,
        )
        return _finish(event, schemas.EventStatus.unmatched, now=now)
    event.outcome = applied.value
    return _finish(event, schemas.EventStatus.processed, now=now)


def _finish(event: InboundEvent, status: schemas.EventStatus, *, now: datetime) -> str:
    event.status = status.value
    event.processed_at = now
    return status.value


async def record_failure(
    session: AsyncSession, *, event_id: str, error: str, delays_seconds: Sequence[int], now: datetime
) -> int | None:
    """Count a failed attempt and defer the next one; returns its delay, or
    None when the attempts ran out (the event is then failed and alerted)."""
    event = await repository.get_for_update(session, event_id)
    if event is None or event.status != schemas.EventStatus.received.value:
        return None
    event.attempts += 1
    event.last_error = error[:MAX_ERROR_LENGTH]
    if event.attempts <= len(delays_seconds):
        delay = delays_seconds[event.attempts - 1]
        await jobs_app.defer(session, PROCESS_EVENT_TASK, schedule_in={"seconds": delay}, event_id=event.id)
        return delay
    _finish(event, schemas.EventStatus.failed, now=now)
    await alerts_service.raise_alert(
        session,
        kind="webhook.processing_failed",
        severity="critical",
        message=(
            f"The {event.provider} {event.event_type} webhook {event.id} failed {event.attempts} times; "
            f"last error: {event.last_error}"
        ),
        entity_type="webhook_event",
        entity_id=event.id,
        data={"provider": event.provider, "reference": event.reference, "attempts": event.attempts},
        platform_id=event.platform_id,
    )
    return None


async def retry(
    session: AsyncSession, *, event_id: str, actor: Actor, now: datetime, reason: str | None = None
) -> InboundEvent:
    """Process a failed or unmatched event again (an operator fixed the cause)."""
    event = await repository.get_for_update(session, event_id)
    if event is None:
        raise InboundEventNotFound()
    if event.status not in (schemas.EventStatus.failed.value, schemas.EventStatus.unmatched.value):
        raise InboundEventNotRetryable(f"The event is {event.status}.")
    event.status = schemas.EventStatus.received.value
    event.processed_at = None
    await session.flush()
    await jobs_app.defer(session, PROCESS_EVENT_TASK, event_id=event.id)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=event.platform_id,
        action="webhook_event.retried",
        entity_type="webhook_event",
        entity_id=event.id,
        data=audit_service.with_reason(reason, attempts=event.attempts),
    )
    return event


async def get_event(session: AsyncSession, *, event_id: str) -> InboundEvent:
    event = await repository.get(session, event_id)
    if event is None:
        raise InboundEventNotFound()
    return event


async def list_events(
    session: AsyncSession,
    *,
    provider: str | None,
    status: schemas.EventStatus | None,
    reference: str | None,
    page: paging.Page,
) -> Sequence[InboundEvent]:
    """Newest first."""
    return await repository.list_events(
        session, provider=provider, status=status.value if status else None, reference=reference, page=page
    )
