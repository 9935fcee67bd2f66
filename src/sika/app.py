"""The HTTP application, composed: middleware, error mapping, every domain's
router under ``/v1``, liveness, readiness and metrics at the root, and the
operator dashboard under ``/dashboard``."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine

from sika import __version__
from sika.alerts import router as alerts_router
from sika.api import docs_ui, openapi, problems
from sika.api import providers as api_providers
from sika.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware, TextGuardMiddleware
from sika.api.ratelimit import RateLimiter
from sika.api.request_slots import RequestSlots
from sika.audit import router as audit_router
from sika.auth import key_cache
from sika.auth import router as auth_router
from sika.core.config import Settings
from sika.core.db import libpq_url, make_engine, make_sessionmaker
from sika.dashboard import app as dashboard_app
from sika.escrow import router as escrow_router
from sika.events import router as events_router
from sika.instalments import router as instalments_router
from sika.ledger import batcher as ledger_batcher
from sika.ledger import router as ledger_router
from sika.mandates import router as mandates_router
from sika.outbound import router as outbound_router
from sika.p2p import router as p2p_router
from sika.parties import router as parties_router
from sika.payments import router as payments_router
from sika.platforms import router as platforms_router
from sika.promos import router as promos_router
from sika.proofs import router as proofs_router
from sika.search import router as search_router
from sika.system import router as system_router
from sika.transfers import router as transfers_router
from sika.wallets import router as wallets_router
from sika.webhooks import router as webhooks_router

API_PREFIX = "/v1"
PROOF_UPLOAD_PATH = re.compile(rf"{API_PREFIX}/escrows/[^/]+/milestones/[^/]+/proofs")
DASHBOARD_PATH = "/dashboard"


def api_routers() -> list[APIRouter]:
    """Every domain's router, each served under ``/v1``.

    FastAPI finds a request's route by walking the routers in this order, a
    pattern match per route, so the routes platforms call most come first:
    the ledger's transfers, providers' webhooks, wallets' holds. No two
    routers serve a path in common (``tests/foundation/test_route_order.py``),
    so the order changes only how soon a route is found."""
    routers = [
        module.router
        for module in (
            ledger_router,
            webhooks_router,
            wallets_router,
            platforms_router,
            auth_router,
            audit_router,
            alerts_router,
            parties_router,
            payments_router,
            escrow_router,
            mandates_router,
            proofs_router,
            events_router,
            search_router,
            p2p_router,
            transfers_router,
            outbound_router,
            instalments_router,
            promos_router,
        )
    ]
    return [
        *routers,
        # Provider-calling routes run in phases (``PhasedRoute``), on routers of their own.
        payments_router.phased_router,
        escrow_router.summary_router,
        escrow_router.phased_router,
        instalments_router.instalments_router,
        instalments_router.phased_router,
        # Support's reading of a collection or a payout, under its path.
        search_router.timeline_router,
        search_router.payout_timeline_router,
        search_router.holdings_timeline_router,
    ]


def _dashboard(app: FastAPI, settings: Settings) -> FastAPI:
    """The operator pages, on this app's sessions and rate limiter; their actions ask the
    providers through this app's own client."""
    return dashboard_app.create(
        settings,
        sessions=app.state.sessions,
        limiter=app.state.rate_limiter,
        providers=lambda: api_providers.for_app(app),
    )


def create_app(settings: Settings, *, database_url: str, engine: AsyncEngine | None = None) -> FastAPI:
    """An app on ``database_url``. The caller owns the database server; the
    app owns its engine unless one is handed in."""
    settings.check_safe_to_start()
    owns_engine = engine is None
    engine = engine or make_engine(
        database_url, pool_size=settings.DB_POOL_SIZE, max_overflow=settings.DB_POOL_MAX_OVERFLOW
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        listener = None
        if settings.API_KEY_CACHE_SECONDS > 0:
            listener = asyncio.create_task(key_cache.listen(libpq_url(database_url), app.state.key_cache))
        yield
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await ledger_batcher.close_for_engine(engine)
        await api_providers.close(app)
        await app.state.rate_limiter.aclose()
        if owns_engine:
            await engine.dispose()

    is_production = settings.ENV == "production"
    app = FastAPI(
        title="Sika",
        version=__version__,
        description="Money movement on a double-entry ledger: wallets, holds, collections, payouts.",
        lifespan=lifespan,
        debug=settings.DEBUG and not is_production,
        # The reference pages are served by ``docs_ui`` (offline, under a strict CSP), never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database_url = database_url
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.request_slots = RequestSlots.of(settings)
    # Answers nothing until its listener hears revocations (started with the app's lifespan).
    app.state.key_cache = key_cache.KeyCache(ttl_seconds=settings.API_KEY_CACHE_SECONDS)
    app.state.rate_limiter = RateLimiter(
        storage_url=settings.RATE_LIMIT_STORAGE_URL,
        per_key=settings.RATE_LIMIT_PER_KEY,
        failed_auth_per_address=settings.RATE_LIMIT_PER_ADDRESS,
        webhooks_per_provider=settings.RATE_LIMIT_WEBHOOKS_PER_PROVIDER,
        system_per_address=settings.RATE_LIMIT_SYSTEM_PER_ADDRESS,
    )
    problems.install(app)
    openapi.describe(app)
    # Each straight under the app (FastAPI walks every level of included routers on every request),
    # and before the probes and the reference pages, which it would otherwise try and miss first.
    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(system_router.router)
    if not is_production:
        docs_ui.install(app, openapi_url=app.openapi_url or "/openapi.json")
    # The operator pages sit under this app's middleware: request ids, body limit, security headers.
    app.mount(DASHBOARD_PATH, _dashboard(app, settings))
    # Outermost last: the request id must exist before anything can fail, and the text
    # guard reads only bodies the size limit has bounded.
    app.add_middleware(TextGuardMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.MAX_BODY_BYTES,
        # Photos sent as proofs of delivery are larger than any JSON body.
        larger=((PROOF_UPLOAD_PATH, settings.proof_upload_bytes),),
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware)
    return app
