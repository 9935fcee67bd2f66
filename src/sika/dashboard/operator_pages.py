"""Operators' safe actions on one object, from the dashboard: re-run a collection's or a
payout's reconciliation now, re-queue one reconciliation gave up on, acknowledge an
object's open alerts, re-process a failed inbound webhook event.

None of them moves money by hand: reconciliation applies the provider's own answer by the
usual rules (``sika.payments.service.actions``), the others only change what is asked or
shown. Each form carries the session's CSRF token and a required reason, which the
action's audit row keeps. Each acts in a session bound to the operator's platform, so a
platform-bound support key reaches its own platform's objects only (another's is a 404).
The page ``/{kind}s/{id}/actions`` shows the object's state, the forms
(``_object_actions.html``, which the object pages include too), its open alerts and its
audit rows with their reasons.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from starlette.datastructures import FormData

from sika.alerts import service as alerts_service
from sika.audit.schemas import REASON_MAX_CHARACTERS
from sika.core import clock, db, errors, tenancy
from sika.core.phases import standalone
from sika.dashboard import money, operator_read, web
from sika.dashboard.escrow_forms import FormRefused
from sika.dashboard.operator_read import Plural
from sika.dashboard.views import CurrentOperator, CurrentView, reading, render
from sika.payments import service as payments_service
from sika.webhooks import service as webhooks_service

router = APIRouter(include_in_schema=False)
_CURRENCY = re.compile(r"^[A-Z]{3}$")

DONE = frozenset({"reconciled", "requeued", "acknowledged"})
"""What the page may say was just done (``?done=``)."""
OUTCOMES = frozenset({"changed", "unchanged", "disagreement", "mismatch", payments_service.UNREACHABLE})


def _refused(request: Request, message: str, status_code: int) -> HTMLResponse:
    return render(request, "error.html", operator=None, status_code=status_code, message=message)


def required_reason(form: FormData) -> str:
    """The form's reason, stripped; ``FormRefused`` when blank or too long (every action form asks one)."""
    reason = (web.field(form, "reason") or "").strip()
    if not 1 <= len(reason) <= REASON_MAX_CHARACTERS:
        raise FormRefused("error.reason_required", 400)
    return reason


def _back(request: Request, plural: Plural, object_id: str, **query: str) -> RedirectResponse:
    return RedirectResponse(
        f"{web.base(request)}/{plural.value}/{object_id}/actions?{urlencode(query)}", status_code=303
    )


@router.get("/money/{figure}", name="money_list")
async def money_list(request: Request, figure: money.Figure, view: CurrentView, currency: str = "") -> Response:
    """The list behind one figure of the overview, in the platform in view."""
    if not _CURRENCY.match(currency):
        return _refused(request, "error.bad_request", 400)
    async with reading(request, view.platform_id) as session:
        rows = await money.listed(session, figure, currency=currency)
    return render(
        request,
        "money_list.html",
        operator=view.operator,
        view=view,
        page="overview",
        figure=figure.value,
        currency=currency,
        rows=rows,
        shown_limit=money.LISTED,
    )


@router.get("/{plural}/{object_id}/actions", name="object_actions")
async def object_actions(
    request: Request, plural: Plural, object_id: str, view: CurrentView, done: str = "", outcome: str = ""
) -> Response:
    actor = view.operator.actor(request_id=web.request_id(request))
    async with reading(request, view.platform_id) as session:
        try:
            found = await operator_read.object_actions(session, plural, object_id, actor=actor, now=clock.now())
        except errors.NotFound:
            return _refused(request, "error.not_found", 404)
    return render(
        request,
        "object_actions.html",
        operator=view.operator,
        view=view,
        page="search",
        kind=plural.kind,
        object_id=object_id,
        found=found,
        done=done if done in DONE else None,
        outcome=outcome if outcome in OUTCOMES else None,
    )


@router.post("/{plural}/{object_id}/reconcile")
async def reconcile_now(request: Request, plural: Plural, object_id: str, operator: CurrentOperator) -> Response:
    """Ask the provider now; a transaction is open only before and after the call."""
    form = await request.form()
    web.check_csrf(operator, form)
    dashboard = web.dashboard(request)
    try:
        if plural.payment is None:
            raise FormRefused("error.not_found", 404)
        reason = required_reason(form)
        async with standalone(dashboard.sessions) as phases:
            # Bound as the operator is: another platform's object is not there (404).
            tenancy.bind(phases.first, operator.platform_id)
            outcome = await payments_service.reconcile_kind_now(
                phases,
                plural.payment,
                object_id,
                providers=dashboard.providers(),
                actor=operator.actor(request_id=web.request_id(request)),
                reason=reason,
                clock=clock.now,
            )
    except FormRefused as refused:
        return _refused(request, refused.message, refused.status_code)
    except errors.NotFound:
        return _refused(request, "error.not_found", 404)
    except payments_service.NotOpen:
        return _refused(request, "error.reconcile_not_open", 409)
    return _back(request, plural, object_id, done="reconciled", outcome=outcome)


@router.post("/{plural}/{object_id}/requeue")
async def requeue(request: Request, plural: Plural, object_id: str, operator: CurrentOperator) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    try:
        if plural.payment is None:
            raise FormRefused("error.not_found", 404)
        reason = required_reason(form)
        async with db.transaction(web.dashboard(request).sessions) as session:
            tenancy.bind(session, operator.platform_id)
            await payments_service.requeue_kind(
                session,
                plural.payment,
                object_id,
                now=clock.now(),
                actor=operator.actor(request_id=web.request_id(request)),
                reason=reason,
            )
    except FormRefused as refused:
        return _refused(request, refused.message, refused.status_code)
    except errors.NotFound:
        return _refused(request, "error.not_found", 404)
    except payments_service.NotOpen:
        return _refused(request, "error.reconcile_not_open", 409)
    return _back(request, plural, object_id, done="requeued")


@router.post("/{plural}/{object_id}/alerts/acknowledge")
async def acknowledge_alerts(request: Request, plural: Plural, object_id: str, operator: CurrentOperator) -> Response:
    """Acknowledge every open alert about the object (each audited with the reason)."""
    form = await request.form()
    web.check_csrf(operator, form)
    actor = operator.actor(request_id=web.request_id(request))
    try:
        reason = required_reason(form)
        async with db.transaction(web.dashboard(request).sessions) as session:
            tenancy.bind(session, operator.platform_id)
            # The object first: another platform's is a 404, not a silent "nothing to acknowledge".
            await operator_read.summary(session, plural, object_id, actor=actor, now=clock.now())
            await alerts_service.acknowledge_about(
                session, entity_type=plural.kind, entity_id=object_id, actor=actor, now=clock.now(), reason=reason
            )
    except FormRefused as refused:
        return _refused(request, refused.message, refused.status_code)
    except errors.NotFound:
        return _refused(request, "error.not_found", 404)
    return _back(request, plural, object_id, done="acknowledged")


@router.post("/webhook-events/{event_id}/retry")
async def retry_webhook_event(request: Request, event_id: str, operator: CurrentOperator) -> Response:
    """Process a failed or unmatched inbound webhook event again (its job does the work)."""
    form = await request.form()
    web.check_csrf(operator, form)
    try:
        reason = required_reason(form)
        async with db.transaction(web.dashboard(request).sessions) as session:
            tenancy.bind(session, operator.platform_id)
            await webhooks_service.retry(
                session,
                event_id=event_id,
                actor=operator.actor(request_id=web.request_id(request)),
                now=clock.now(),
                reason=reason,
            )
    except FormRefused as refused:
        return _refused(request, refused.message, refused.status_code)
    except errors.NotFound:
        return _refused(request, "error.not_found", 404)
    except webhooks_service.InboundEventNotRetryable:
        return _refused(request, "error.webhook_event_not_retryable", 409)
    return RedirectResponse(f"{web.base(request)}/webhooks?{urlencode({'retried': event_id})}", status_code=303)
