"""Webhook endpoints over HTTP: a platform key registers where its events are
sent and reads, retries and replays their deliveries; operators (``support``)
read and retry too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sika.api.deps import CurrentSettings, Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.audit.schemas import ActionReason
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.outbound import schemas
from sika.outbound import service as outbound_service
from sika.outbound.models import DeliveryStatus

router = APIRouter(prefix="/webhook-endpoints", tags=["webhook endpoints"], route_class=UnitOfWorkRoute)
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
platform_or_support = authorize(Scope.platform, Scope.support)
PlatformOrSupport = Annotated[Actor, Depends(platform_or_support)]
PlatformOrSupportClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform_or_support))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]


def _with_secret(endpoint: object, secret: str) -> schemas.EndpointWithSecret:
    shown = schemas.EndpointOut.model_validate(endpoint)
    return schemas.EndpointWithSecret(**shown.model_dump(), secret=secret)


@router.post("", status_code=201, response_model=schemas.EndpointWithSecret)
async def create_webhook_endpoint(
    body: schemas.EndpointCreate, session: Session, settings: CurrentSettings, actor: Platform, claim: PlatformClaim
) -> schemas.EndpointWithSecret:
    """The answer carries the signing secret, once."""
    endpoint, secret = await outbound_service.create_endpoint(
        session, body=body, settings=settings, actor=actor, now=clock.now()
    )
    return _with_secret(endpoint, secret)


@router.get("", response_model=schemas.EndpointPage)
async def list_webhook_endpoints(session: Session, actor: Reader, page: Page) -> schemas.EndpointPage:
    endpoints = await outbound_service.list_endpoints(session, page=page)
    return schemas.EndpointPage(
        data=[schemas.EndpointOut.model_validate(e) for e in endpoints], next_cursor=next_cursor(endpoints, page.limit)
    )


@router.get("/{endpoint_id}", response_model=schemas.EndpointOut)
async def get_webhook_endpoint(endpoint_id: str, session: Session, actor: Reader) -> schemas.EndpointOut:
    return schemas.EndpointOut.model_validate(await outbound_service.get_endpoint(session, endpoint_id=endpoint_id))


@router.patch("/{endpoint_id}", response_model=schemas.EndpointOut)
async def update_webhook_endpoint(
    endpoint_id: str, body: schemas.EndpointUpdate, session: Session, settings: CurrentSettings, actor: Platform
) -> schemas.EndpointOut:
    endpoint = await outbound_service.update_endpoint(
        session, endpoint_id=endpoint_id, body=body, settings=settings, actor=actor, now=clock.now()
    )
    return schemas.EndpointOut.model_validate(endpoint)


@router.delete("/{endpoint_id}", response_model=schemas.EndpointOut)
async def delete_webhook_endpoint(endpoint_id: str, session: Session, actor: Platform) -> schemas.EndpointOut:
    """Nothing more is sent to it; its delivery log goes with it."""
    endpoint = await outbound_service.get_endpoint(session, endpoint_id=endpoint_id)
    shown = schemas.EndpointOut.model_validate(endpoint)
    await outbound_service.delete_endpoint(session, endpoint_id=endpoint_id, actor=actor)
    return shown


@router.post("/{endpoint_id}/rotate-secret", response_model=schemas.EndpointWithSecret)
async def rotate_webhook_secret(
    endpoint_id: str,
    body: schemas.RotateSecret,
    session: Session,
    settings: CurrentSettings,
    actor: Platform,
    claim: PlatformClaim,
) -> schemas.EndpointWithSecret:
    """A new secret, shown once; the old one signs beside it for the overlap."""
    endpoint, secret = await outbound_service.rotate_secret(
        session,
        endpoint_id=endpoint_id,
        overlap_seconds=body.overlap_seconds,
        settings=settings,
        actor=actor,
        now=clock.now(),
    )
    return _with_secret(endpoint, secret)


@router.get("/{endpoint_id}/deliveries", response_model=schemas.DeliveryPage)
async def list_webhook_deliveries(
    endpoint_id: str, session: Session, actor: Reader, page: Page, status: DeliveryStatus | None = None
) -> schemas.DeliveryPage:
    """Newest first: each event's status, attempts, last answer and next attempt."""
    deliveries = await outbound_service.list_deliveries(session, endpoint_id=endpoint_id, status=status, page=page)
    return schemas.DeliveryPage(
        data=[schemas.DeliveryOut.model_validate(d) for d in deliveries],
        next_cursor=next_cursor(deliveries, page.limit),
    )


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", response_model=schemas.DeliveryOut)
async def retry_webhook_delivery(
    endpoint_id: str,
    delivery_id: str,
    session: Session,
    actor: PlatformOrSupport,
    claim: PlatformOrSupportClaim,
    body: ActionReason | None = None,
) -> schemas.DeliveryOut:
    """Send it again now, with the same ``webhook-id``. ``reason`` (optional) is kept in the audit row."""
    delivery = await outbound_service.retry_delivery(
        session,
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        actor=actor,
        now=clock.now(),
        reason=body.reason if body else None,
    )
    return schemas.DeliveryOut.model_validate(delivery)


@router.post("/{endpoint_id}/replay", response_model=schemas.Replayed)
async def replay_webhook_events(
    endpoint_id: str, body: schemas.Replay, session: Session, actor: PlatformOrSupport, claim: PlatformOrSupportClaim
) -> schemas.Replayed:
    """Send again the events from a ``sequence`` or an instant on, with their original ``webhook-id`` s."""
    count = await outbound_service.replay(session, endpoint_id=endpoint_id, body=body, actor=actor, now=clock.now())
    return schemas.Replayed(deliveries=count)
