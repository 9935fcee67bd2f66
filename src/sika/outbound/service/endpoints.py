"""Endpoints a platform registers, their secrets, their delivery log, and an
operator's or a platform's retry and replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import ids, paging, webhook_signing
from sika.core.config import Environment, Settings
from sika.core.context import Actor
from sika.outbound import repository, safety, schemas, sealed
from sika.outbound.models import Delivery, DeliveryStatus, Endpoint
from sika.outbound.service.errors import DeliveryNotFound, EndpointNotFound
from sika.outbound.service.queue import queue_pump
from sika.platforms import service as platforms_service

MAX_REPLAY = 10_000
"""Events one replay call sends again; a longer replay is called again from where this one ended."""


async def _last_event_seq(session: AsyncSession) -> int:
    _, _, last = await repository.snapshot_bounds(session)
    return last


async def create_endpoint(
    session: AsyncSession, *, body: schemas.EndpointCreate, settings: Settings, actor: Actor, now: datetime
) -> tuple[Endpoint, str]:
    """The endpoint and its signing secret (shown once). It receives the events that
    happen from now on; earlier ones are sent with a replay."""
    safety.check_shape(body.url, production=settings.ENV is Environment.production)
    if settings.ENV is Environment.production:
        await safety.target(body.url, production=True)
    platform_id = await platforms_service.platform_for_new(session, actor=actor, requested=body.platform_id)
    secret = webhook_signing.new_secret()
    endpoint = Endpoint(
        id=ids.new_id("we"),
        platform_id=platform_id,
        url=body.url,
        event_types=sorted(set(body.event_types)),
        description=body.description,
        enabled=body.enabled,
        secret_sealed=sealed.seal(secret, settings.OUTBOUND_SECRETS_KEY),
        fanned_out_seq=await _last_event_seq(session),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    await _audit(session, actor, endpoint, "webhook_endpoint.created", {"url": endpoint.url})
    await queue_pump(session)
    return endpoint, secret


async def get_endpoint(session: AsyncSession, *, endpoint_id: str, for_update: bool = False) -> Endpoint:
    endpoint = await repository.get_endpoint(session, endpoint_id, for_update=for_update)
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


async def list_endpoints(session: AsyncSession, *, page: paging.Page = paging.FIRST_PAGE) -> Sequence[Endpoint]:
    return await repository.list_endpoints(session, page=page)


async def update_endpoint(
    session: AsyncSession,
    *,
    endpoint_id: str,
    body: schemas.EndpointUpdate,
    settings: Settings,
    actor: Actor,
    now: datetime,
) -> Endpoint:
    endpoint = await get_endpoint(session, endpoint_id=endpoint_id, for_update=True)
    production = settings.ENV is Environment.production
    if body.url is not None:
        safety.check_shape(body.url, production=production)
        if production:
            await safety.target(body.url, production=True)
        endpoint.url = body.url
    if body.event_types is not None:
        endpoint.event_types = sorted(set(body.event_types))
    if body.description is not None:
        endpoint.description = body.description
    if body.enabled is not None:
        endpoint.enabled = body.enabled
        if body.enabled:
            endpoint.disabled_reason = None
            endpoint.failing_since = None
    endpoint.updated_at = now
    await _audit(session, actor, endpoint, "webhook_endpoint.updated", body.model_dump(mode="json", exclude_none=True))
    await session.flush()
    await queue_pump(session)
    return endpoint


async def delete_endpoint(session: AsyncSession, *, endpoint_id: str, actor: Actor) -> None:
    """The endpoint and its delivery log are gone; nothing more is sent to it."""
    endpoint = await get_endpoint(session, endpoint_id=endpoint_id, for_update=True)
    await _audit(session, actor, endpoint, "webhook_endpoint.deleted", {"url": endpoint.url})
    await session.delete(endpoint)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    *,
    endpoint_id: str,
    overlap_seconds: int | None,
    settings: Settings,
    actor: Actor,
    now: datetime,
) -> tuple[Endpoint, str]:
    """A new secret (shown once); the old one still signs, beside it, for the overlap."""
    endpoint = await get_endpoint(session, endpoint_id=endpoint_id, for_update=True)
    overlap = settings.OUTBOUND_SECRET_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
    secret = webhook_signing.new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed if overlap > 0 else None
    endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap > 0 else None
    endpoint.secret_sealed = sealed.seal(secret, settings.OUTBOUND_SECRETS_KEY)
    endpoint.updated_at = now
    await _audit(session, actor, endpoint, "webhook_endpoint.secret_rotated", {"overlap_seconds": overlap})
    return endpoint, secret


def signing_secrets(endpoint: Endpoint, *, settings: Settings, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    found = [sealed.unseal(endpoint.secret_sealed, settings.OUTBOUND_SECRETS_KEY)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed is not None and expires is not None and now < expires:
        found.append(sealed.unseal(endpoint.previous_secret_sealed, settings.OUTBOUND_SECRETS_KEY))
    return found


async def list_deliveries(
    session: AsyncSession,
    *,
    endpoint_id: str | None,
    status: DeliveryStatus | None = None,
    page: paging.Page = paging.FIRST_PAGE,
) -> Sequence[Delivery]:
    """Newest first; ``endpoint_id`` None lists every endpoint's (the dashboard's failing deliveries)."""
    if endpoint_id is not None:
        await get_endpoint(session, endpoint_id=endpoint_id)
    return await repository.list_deliveries(
        session, endpoint_id=endpoint_id, status=status.value if status else None, page=page
    )


async def retry_delivery(
    session: AsyncSession,
    *,
    endpoint_id: str,
    delivery_id: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> Delivery:
    """Send it again now, with the same ``webhook-id``, on a new round of the schedule."""
    await get_endpoint(session, endpoint_id=endpoint_id)
    delivery = await repository.get_delivery(session, endpoint_id=endpoint_id, delivery_id=delivery_id, for_update=True)
    if delivery is None:
        raise DeliveryNotFound()
    delivery.status = DeliveryStatus.pending.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.updated_at = now
    await audit_service.record(
        session,
        actor=actor,
        platform_id=delivery.platform_id,
        action="webhook_delivery.retried",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        data=audit_service.with_reason(reason),
    )
    await queue_pump(session)
    return delivery


async def replay(session: AsyncSession, *, endpoint_id: str, body: schemas.Replay, actor: Actor, now: datetime) -> int:
    """Send again every event of the endpoint from a ``sequence`` or an instant on, with their
    original ``webhook-id`` s, in order per object; how many (at most ``MAX_REPLAY``)."""
    endpoint = await get_endpoint(session, endpoint_id=endpoint_id, for_update=True)
    count = await repository.replay(
        session, endpoint=endpoint, since_seq=body.since_sequence, since=body.since, now=now, limit=MAX_REPLAY
    )
    await _audit(
        session, actor, endpoint, "webhook_endpoint.replayed", {**body.model_dump(mode="json"), "count": count}
    )
    await queue_pump(session)
    return count


async def _audit(session: AsyncSession, actor: Actor, endpoint: Endpoint, action: str, data: dict[str, object]) -> None:
    await audit_service.record(
        session,
        actor=actor,
        platform_id=endpoint.platform_id,
        action=action,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        data=data,
    )
