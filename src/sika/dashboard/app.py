"""The operator dashboard (docs/architecture.md): server-rendered pages, mounted
on the API app at ``/dashboard``, that show the ledger's health, alerts, stuck
payments and the webhook backlog.

Pages read through the domains' services in read-only transactions; the one
write is acknowledging an alert, through ``sika.alerts.service.acknowledge``,
which records it in the audit log. An operator never edits money here.
Templates are Jinja2 with autoescaping; the CSS and the favicon are served
from this package, and no script runs in the browser.

Tenancy (``sika.core.tenancy``): every session a page reads in is opened by
``views.reading``, bound to the platform in view, and acknowledging is bound the same
way. An operator whose key is bound to a platform sees that platform only,
whatever the address asks; a global operator sees every platform, or the one
chosen in the header's filter (``?platform=``, carried by every link).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from sika.alerts import service as alerts_service
from sika.audit import service as audit_service
from sika.auth import service as auth_service
from sika.core import clock, db, errors, tenancy
from sika.core.config import Settings
from sika.core.context import Actor
from sika.dashboard import (
    auth,
    chart,
    escrow_forms,
    instalments_pages,
    lookup,
    mandate_forms,
    promos_pages,
    proof_forms,
    read,
    timelines_pages,
    web,
)
from sika.dashboard.views import (
    PLATFORM_ID,
    PLATFORM_PARAM,
    CurrentOperator,
    CurrentView,
    platform_in_view,
    reading,
    render,
)
from sika.outbound import service as outbound_service
from sika.proofs import service as proofs_service

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
_ALERT_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_ESCROW_ID = _ALERT_ID
_PROOF_ID = _ALERT_ID
_MERCHANT_ID = _ALERT_ID
_DELIVERY_ID = _ALERT_ID


def create(settings: Settings, *, sessions: async_sessionmaker[AsyncSession], limiter: web.AddressLimiter) -> FastAPI:
    """The dashboard as an ASGI app, to mount on the API app (whose middleware
    adds the request id and the security headers)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    if settings.DASHBOARD_SESSION_SECRET is None:
        # Only reachable by setting it to null outside production: it is generated when unset.
        raise RuntimeError("SIKA_DASHBOARD_SESSION_SECRET is not set")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.dashboard = web.Dashboard(
        settings=settings,
        sessions=sessions,
        signer=auth.Signer(
            settings.DASHBOARD_SESSION_SECRET, max_age_seconds=settings.DASHBOARD_SESSION_MAX_AGE_SECONDS
        ),
        limiter=limiter,
        templates=Jinja2Templates(env=environment),
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.include_router(instalments_pages.router)
    app.include_router(promos_pages.router)
    app.include_router(timelines_pages.router)
    app.add_exception_handler(auth.LoginRequired, _login_required)
    app.add_exception_handler(auth.CsrfRefused, _csrf_refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


# Plumbing --------------------------------------------------------------------


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.LoginRequired)
    params: dict[str, str] = {}
    if request.method == "GET":
        params["next"] = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if exc.ended:
        params["ended"] = "1"
    query = f"?{urlencode(params)}" if params else ""
    response = RedirectResponse(f"{web.base(request)}/login{query}", status_code=303)
    if exc.ended:
        web.delete_cookie(request, response, auth.SESSION_COOKIE)
    return response


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return _error_page(request, "error.csrf", status_code=403)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "error.not_found", 400: "error.bad_request"}.get(exc.status_code, "error.bad_request")
    if exc.detail in {"alert_not_found", "platform_not_found"}:
        message = f"error.{exc.detail}"
    return _error_page(request, message, status_code=exc.status_code)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return _error_page(request, "error.bad_request", status_code=400)


def _error_page(request: Request, message: str, *, status_code: int) -> HTMLResponse:
    return render(request, "error.html", operator=None, status_code=status_code, message=message)


# Pages -----------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get("/login", name="login")
async def login_form(request: Request) -> Response:
    raw = request.cookies.get(auth.SESSION_COOKIE)
    if raw is not None and web.dashboard(request).signer.read_session(raw) is not None:
        return RedirectResponse(f"{web.base(request)}/", status_code=303)
    notice = None
    if request.query_params.get("ended"):
        notice = "login.session_ended"
    elif request.query_params.get("signed_out"):
        notice = "login.signed_out"
    return _login_page(request, error=None, notice=notice, status_code=200)


def _login_page(
    request: Request,
    *,
    error: str | None,
    notice: str | None = None,
    status_code: int,
    next_path: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """The sign-in form with a fresh token; ``next_path`` is where a refused attempt was headed."""
    cookie, token = web.dashboard(request).signer.issue_login_form()
    response = render(
        request,
        "login.html",
        operator=None,
        page="login",
        status_code=status_code,
        error=error,
        error_values=values,
        notice=notice,
        login_token=token,
        next_path=web.safe_next(request, next_path or request.query_params.get("next")) or "",
    )
    web.set_cookie(request, response, auth.LOGIN_COOKIE, cookie, max_age=auth.LOGIN_FORM_MAX_AGE_SECONDS)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    dashboard = web.dashboard(request)
    form = await request.form()
    target = web.safe_next(request, web.field(form, "next"))
    if not dashboard.signer.login_form_matches(
        request.cookies.get(auth.LOGIN_COOKIE), web.field(form, auth.CSRF_FIELD)
    ):
        return _login_page(request, error="login.refused_form", status_code=403, next_path=target)
    try:
        await dashboard.limiter.hit_failed_authentication(web.client_address(request))
    except errors.RateLimited:
        return _login_page(request, error="login.rate_limited", status_code=429, next_path=target)
    secret = (web.field(form, "api_key") or "").strip()
    async with db.transaction(dashboard.sessions) as session:
        try:
            key = await auth_service.authenticate(session, secret=secret, now=clock.now())
        except errors.NotAuthenticated:
            return _login_page(request, error="login.refused_key", status_code=401, next_path=target)
        scopes = frozenset(key.scopes)
        if not auth.may_sign_in(scopes):
            return _login_page(
                request,
                error="login.refused_scope",
                status_code=403,
                next_path=target,
                scopes=", ".join(sorted(scopes)),
            )
        key_id = key.id
        await audit_service.record(
            session,
            actor=Actor(id=f"key:{key_id}", scopes=scopes, request_id=web.request_id(request)),
            platform_id=key.platform_id,
            action="dashboard.signed_in",
            entity_type="api_key",
            entity_id=key_id,
        )
    cookie, _ = dashboard.signer.issue_session(key_id=key_id)
    response = RedirectResponse(target or f"{web.base(request)}/", status_code=303)
    web.set_cookie(request, response, auth.SESSION_COOKIE, cookie, max_age=dashboard.signer.max_age_seconds)
    web.delete_cookie(request, response, auth.LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, operator: CurrentOperator) -> Response:
    web.check_csrf(operator, await request.form())
    async with db.transaction(web.dashboard(request).sessions) as session:
        await audit_service.record(
            session,
            actor=operator.actor(request_id=web.request_id(request)),
            platform_id=operator.platform_id,
            action="dashboard.signed_out",
            entity_type="api_key",
            entity_id=operator.key_id,
        )
    response = RedirectResponse(f"{web.base(request)}/login?signed_out=1", status_code=303)
    web.delete_cookie(request, response, auth.SESSION_COOKIE)
    return response


@router.get("/", name="overview")
async def overview(request: Request, view: CurrentView) -> Response:
    dashboard = web.dashboard(request)
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.overview(
            session,
            now=now,
            stuck_after_seconds=dashboard.settings.RECONCILE_AFTER_SECONDS,
            with_checks=view.filterable,
            fee_platforms=(view.platform,) if view.platform is not None else view.platforms,
        )
    return render(
        request,
        "overview.html",
        operator=view.operator,
        view=view,
        page="overview",
        now=now,
        overview=data,
        chart=chart.build(data.activity),
        stuck_after_seconds=dashboard.settings.RECONCILE_AFTER_SECONDS,
    )


@router.get("/alerts", name="alerts")
async def alerts(
    request: Request,
    view: CurrentView,
    status: read.AlertFilter = read.AlertFilter.open,
    before: int | None = None,
    acknowledged: str | None = None,
) -> Response:
    async with reading(request, view.platform_id) as session:
        data = await read.alerts(session, which=status, before_seq=before)
    return render(
        request,
        "alerts.html",
        operator=view.operator,
        view=view,
        page="alerts",
        now=clock.now(),
        alerts=data,
        which=status.value,
        filters=[f.value for f in read.AlertFilter],
        acknowledged=acknowledged if acknowledged and _ALERT_ID.match(acknowledged) else None,
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(request: Request, alert_id: str, operator: CurrentOperator) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    shown = web.field(form, "status")
    which = shown if shown in {f.value for f in read.AlertFilter} else read.AlertFilter.open.value
    asked = web.field(form, PLATFORM_PARAM)
    platform_id = platform_in_view(operator, asked if asked and PLATFORM_ID.match(asked) else None)
    async with db.transaction(web.dashboard(request).sessions) as session:
        # Bound as the page was: another platform's alert is not there (404).
        tenancy.bind(session, platform_id)
        try:
            await alerts_service.acknowledge(
                session, alert_id=alert_id, actor=operator.actor(request_id=web.request_id(request)), now=clock.now()
            )
        except alerts_service.AlertNotFound:
            raise StarletteHTTPException(404, detail="alert_not_found") from None
    query = {"status": which, "acknowledged": alert_id}
    if operator.platform_id is None and platform_id is not None:
        query[PLATFORM_PARAM] = platform_id
    return RedirectResponse(f"{web.base(request)}/alerts?{urlencode(query)}", status_code=303)


@router.get("/payments/stuck", name="stuck_payments")
async def stuck_payments(request: Request, view: CurrentView) -> Response:
    dashboard = web.dashboard(request)
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.stuck_payments(session, now=now, after_seconds=dashboard.settings.RECONCILE_AFTER_SECONDS)
    return render(
        request,
        "stuck.html",
        operator=view.operator,
        view=view,
        page="stuck",
        now=now,
        stuck=data,
        shown_limit=read.STUCK_SHOWN,
    )


@router.get("/escrows", name="escrows")
async def escrows(request: Request, view: CurrentView, resolved: str | None = None) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.escrows(session, now=now)
    return render(
        request,
        "escrows.html",
        operator=view.operator,
        view=view,
        page="escrows",
        now=now,
        queue=data,
        shown_limit=read.ESCROWS_SHOWN,
        due_soon_seconds=read.ESCROWS_DUE_SOON_SECONDS,
        resolved=resolved if resolved and _ESCROW_ID.match(resolved) else None,
    )


@router.get("/transfers", name="transfers")
async def transfers(request: Request, view: CurrentView) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.transfers(session)
    return render(
        request,
        "transfers.html",
        operator=view.operator,
        view=view,
        page="transfers",
        now=now,
        shown=data,
        shown_limit=read.TRANSFERS_SHOWN,
    )


@router.post("/escrows/{escrow_id}/milestones/{number}/resolve")
async def resolve_dispute(request: Request, escrow_id: str, number: int, operator: CurrentOperator) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    async with db.transaction(web.dashboard(request).sessions) as session:
        # Bound as the operator is: another platform's escrow is not there (404).
        tenancy.bind(session, operator.platform_id)
        actor = operator.actor(request_id=web.request_id(request))
        try:
            await escrow_forms.resolve(session, form, escrow_id=escrow_id, number=number, actor=actor)
        except escrow_forms.FormRefused as refused:
            return _error_page(request, refused.message, status_code=refused.status_code)
    return RedirectResponse(f"{web.base(request)}/escrows?{urlencode({'resolved': escrow_id})}", status_code=303)


@router.get("/proofs", name="proofs")
async def proofs(request: Request, view: CurrentView, decided: str | None = None) -> Response:
    async with reading(request, view.platform_id) as session:
        queue = await proofs_service.review_queue(
            session, actor=view.operator.actor(request_id=web.request_id(request))
        )
    shown = decided if decided and _PROOF_ID.match(decided) else None
    return render(
        request,
        "proofs.html",
        operator=view.operator,
        view=view,
        page="proofs",
        queue=queue,
        shown_limit=proofs_service.REVIEW_QUEUE_SHOWN,
        decided=shown,
    )


@router.get("/proofs/{proof_id}/file", name="proof_file")
async def proof_file(request: Request, proof_id: str, view: CurrentView) -> Response:
    """The photo, through the operator's session (the API's download wants a key)."""
    store = proofs_service.FolderStore(web.dashboard(request).settings.proof_files_dir)
    async with reading(request, view.platform_id) as session:
        try:
            proof, data = await proofs_service.proof_file(
                session, proof_id=proof_id, actor=view.operator.actor(request_id=web.request_id(request)), store=store
            )
        except errors.NotFound:
            raise StarletteHTTPException(404) from None
    return Response(data, media_type=proof.content_type, headers={"Cache-Control": "private, no-store"})


@router.post("/proofs/{proof_id}/decision")
async def decide_proof(request: Request, proof_id: str, operator: CurrentOperator) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    async with db.transaction(web.dashboard(request).sessions) as session:
        # Bound as the operator is: another platform's proof is not there (404).
        tenancy.bind(session, operator.platform_id)
        actor = operator.actor(request_id=web.request_id(request))
        try:
            await proof_forms.decide(session, form, proof_id=proof_id, actor=actor)
        except escrow_forms.FormRefused as refused:
            return _error_page(request, refused.message, status_code=refused.status_code)
    return RedirectResponse(f"{web.base(request)}/proofs?{urlencode({'decided': proof_id})}", status_code=303)


@router.get("/mandates", name="mandates")
async def mandates(request: Request, view: CurrentView, changed: str | None = None) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.mandates(session)
    return render(
        request,
        "mandates.html",
        operator=view.operator,
        view=view,
        page="mandates",
        now=now,
        overview=data,
        shown_limit=read.MANDATES_SHOWN,
        changed=changed if changed and _MERCHANT_ID.match(changed) else None,
    )


async def _certify(request: Request, merchant_id: str, operator: auth.Operator, *, certified: bool) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    async with db.transaction(web.dashboard(request).sessions) as session:
        # Bound as the operator is: another platform's merchant is not there (404).
        tenancy.bind(session, operator.platform_id)
        actor = operator.actor(request_id=web.request_id(request))
        try:
            await mandate_forms.certify(session, merchant_id=merchant_id, certified=certified, actor=actor)
        except escrow_forms.FormRefused as refused:
            return _error_page(request, refused.message, status_code=refused.status_code)
    return RedirectResponse(f"{web.base(request)}/mandates?{urlencode({'changed': merchant_id})}", status_code=303)


@router.post("/merchants/{merchant_id}/certify")
async def certify_merchant(request: Request, merchant_id: str, operator: CurrentOperator) -> Response:
    return await _certify(request, merchant_id, operator, certified=True)


@router.post("/merchants/{merchant_id}/decertify")
async def decertify_merchant(request: Request, merchant_id: str, operator: CurrentOperator) -> Response:
    return await _certify(request, merchant_id, operator, certified=False)


@router.get("/webhooks", name="webhooks")
async def webhooks(request: Request, view: CurrentView) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.webhook_backlog(session)
    return render(request, "webhooks.html", operator=view.operator, view=view, page="webhooks", now=now, backlog=data)


@router.get("/webhook-endpoints", name="outbound")
async def outbound(request: Request, view: CurrentView, retried: str | None = None) -> Response:
    now = clock.now()
    async with reading(request, view.platform_id) as session:
        data = await read.outbound(session, now=now)
    shown = retried if retried and _DELIVERY_ID.match(retried) else None
    return render(
        request, "outbound.html", operator=view.operator, view=view, page="outbound", now=now, watch=data, retried=shown
    )


@router.post("/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(request: Request, endpoint_id: str, delivery_id: str, operator: CurrentOperator) -> Response:
    form = await request.form()
    web.check_csrf(operator, form)
    async with db.transaction(web.dashboard(request).sessions) as session:
        # Bound as the operator is: another platform's delivery is not there (404).
        tenancy.bind(session, operator.platform_id)
        actor = operator.actor(request_id=web.request_id(request))
        try:
            await outbound_service.retry_delivery(
                session, endpoint_id=endpoint_id, delivery_id=delivery_id, actor=actor, now=clock.now()
            )
        except errors.NotFound:
            return _error_page(request, "error.not_found", status_code=404)
    return RedirectResponse(
        f"{web.base(request)}/webhook-endpoints?{urlencode({'retried': delivery_id})}", status_code=303
    )


@router.get("/search", name="search")
async def search(
    request: Request, view: CurrentView, q: str = "", amount: str = "", since: str = "", until: str = ""
) -> Response:
    """The search box and what it found, in the platform in view (a GET: it changes nothing)."""
    asked = lookup.Asked(q=q, amount=amount, since=since, until=until)
    answer = lookup.Answer(None, None)
    if not asked.empty:
        actor = view.operator.actor(request_id=web.request_id(request))
        async with reading(request, view.platform_id) as session:
            answer = await lookup.run(session, asked, actor=actor, now=clock.now())
    return render(
        request,
        "search.html",
        operator=view.operator,
        view=view,
        page="search",
        asked=asked,
        answer=answer,
        kinds=lookup.KINDS,
        object_groups=timelines_pages.SEARCH_GROUPS,
        status_code=422 if answer.error else 200,
    )
