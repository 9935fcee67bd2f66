"""Inbound provider webhooks (public, signature-verified; limited per
provider once signed, a failed signature counting as a failed authentication
of its address) and the operators' view of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from sika.api import problems
from sika.api.deps import CurrentSettings, Session, WebhookLimits, authorize, webhook_limits
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.middleware import takes_raw_body
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.audit.schemas import ActionReason
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.webhooks import schemas
from sika.webhooks import service as webhooks_service

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=UnitOfWorkRoute)
support = authorize(Scope.support)
Support = Annotated[Actor, Depends(support)]
SupportClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(support))]


@router.post(
    "/{provider}",
    response_model=schemas.WebhookAck,
    responses={401: {"description": "The signature does not hold; nothing was stored."}},
)
@takes_raw_body
async def receive_webhook(
    provider: str,
    request: Request,
    session: Session,
    settings: CurrentSettings,
    limits: Annotated[WebhookLimits, Depends(webhook_limits)],
) -> schemas.WebhookAck | Response:
    """Where paystack, fedapay and stripe post their events. No API key: the
    provider's signature is checked instead (401 when it does not hold). The
    event is stored and answered 200 at once, duplicates too; a job processes it.
    The body is stored as the bytes signed, whatever text they hold."""
    received = await webhooks_service.receive(
        session,
        provider=provider,
        body=await request.body(),
        headers=request.headers,
        settings=settings,
        now=clock.now(),
        admit=limits.admit,
    )
    if isinstance(received, webhooks_service.Refused):
        await limits.refused()
        # An answer, not an exception: the alert the refusal raised commits with it.
        return problems.domain_problem(request, received.error)
    return schemas.WebhookAck(received=True, duplicate=received.duplicate)


@router.get("/events", response_model=schemas.InboundEventPage)
async def list_webhook_events(
    session: Session,
    actor: Support,
    page: Page,
    provider: str | None = None,
    status: schemas.EventStatus | None = None,
    reference: str | None = None,
) -> schemas.InboundEventPage:
    """Received webhooks, newest first: the backlog (``status=received``), the
    unmatched and the failed."""
    events = await webhooks_service.list_events(
        session, provider=provider, status=status, reference=reference, page=page
    )
    return schemas.InboundEventPage(
        data=[schemas.InboundEventOut.model_validate(e) for e in events],
        next_cursor=next_cursor(events, page.limit),
    )


@router.post("/events/{event_id}/retry", response_model=schemas.InboundEventOut)
async def retry_webhook_event(
    event_id: str, session: Session, actor: Support, claim: SupportClaim, body: ActionReason | None = None
) -> schemas.InboundEventOut:
    """Process a failed or unmatched event again, once its cause is fixed. ``reason``
    (optional) is kept in the audit row."""
    event = await webhooks_service.retry(
        session, event_id=event_id, actor=actor, now=clock.now(), reason=body.reason if body else None
    )
    return schemas.InboundEventOut.model_validate(event)
