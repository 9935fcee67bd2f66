"""The PSP sandbox: one HTTP app that speaks Paystack (under ``/paystack``),
FedaPay (``/fedapay``) and Stripe (``/stripe``) with their own paths, fields,
envelopes, auth and webhook signatures, plus its admin endpoint
(``/_sandbox``). State lives in memory. See docs/sandbox.md.

It imports nothing of Sika but ``sika.core``: it stands where the real
providers stand, and meets Sika's adapters only over HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sika import __version__
from sika.core.config import Environment, Settings
from sika.sandbox import admin, fedapay, paystack, stripe
from sika.sandbox.state import Answer, Sandbox, SandboxConfig


class SandboxRefused(RuntimeError):
    """The sandbox does not run in production."""


def create_app(settings: Settings, *, webhook_target: str | None = None) -> FastAPI:
    """The sandbox app. Webhooks go to ``<webhook_target>/<provider>``; by default
    ``SANDBOX_WEBHOOK_TARGET``, else ``<PUBLIC_URL>/v1/webhooks``."""
    if settings.ENV is Environment.production:
        raise SandboxRefused("The PSP sandbox does not run with SIKA_ENV=production")
    sandbox = Sandbox(settings, SandboxConfig.from_settings(settings, webhook_target=webhook_target))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            sandbox.client = client
            try:
                yield
            finally:
                await sandbox.close()
                sandbox.client = None

    app = FastAPI(
        title="Sika PSP sandbox",
        version=__version__,
        description="Paystack, FedaPay and Stripe as their wire formats say, for laptops and tests",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sandbox

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Answer)
        return exc.response

    app.add_exception_handler(Answer, answer)
    for module in (paystack, fedapay, stripe, admin):
        app.include_router(module.router)
    return app


class _EmbeddedServer(uvicorn.Server):
    """A server that leaves signals to its host (``sika run`` serves the API beside it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_server(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    webhook_target: str | None = None,
    embedded: bool = False,
) -> uvicorn.Server:
    """A uvicorn server for the sandbox on ``SANDBOX_HOST:SANDBOX_PORT`` unless told otherwise.

    With ``embedded`` it installs no signal handlers, so it can share an event
    loop with another server: start ``server.serve()`` as a task, and set
    ``server.should_exit = True`` to stop it."""
    config = uvicorn.Config(
        create_app(settings, webhook_target=webhook_target),
        host=host or settings.SANDBOX_HOST,
        port=port or settings.SANDBOX_PORT,
        log_config=None,
        access_log=False,
    )
    return _EmbeddedServer(config) if embedded else uvicorn.Server(config)


def webhook_target(server: uvicorn.Server) -> str:
    """Where the sandbox served by ``server`` posts its webhooks."""
    app = server.config.app
    assert isinstance(app, FastAPI)
    sandbox: Sandbox = app.state.sandbox
    return sandbox.config.webhook_target


async def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the sandbox until the process is told to stop."""
    await build_server(settings, host=host, port=port).serve()
