"""The PSP sandbox served for real (uvicorn on a free loopback port, in a
thread with its own event loop), and a small webhook receiver that records
every request it gets, exactly as it got it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn

from sika.core.config import Environment, Settings
from sika.sandbox.app import create_app

STARTUP_TIMEOUT_SECONDS = 10.0
WAIT_STEP_SECONDS = 0.02
WAIT_SECONDS = 20.0
"""How long a test waits for what the sandbox does in the background (a webhook, an
approval). Waits return as soon as it happens: this bounds a failing test only, and
is generous because CI shares a small machine."""
PROVIDER_TIMEOUT_SECONDS = 5.0
"""Sika's patience with the sandbox, far above any answer it gives but ``no_answer``'s."""
SHORT_PROVIDER_TIMEOUT_SECONDS = 1.0
"""For tests of the ``no_answer`` scenario only: Sika gives up before the sandbox answers
(``SANDBOX_NO_ANSWER_SECONDS``); every other call gets ``PROVIDER_TIMEOUT_SECONDS``."""

PAYSTACK_SECRET = "sk_test_sandbox"
FEDAPAY_SECRET = "sk_sandbox_fedapay"
FEDAPAY_WEBHOOK_SECRET = "wh_sandbox_fedapay"
STRIPE_SECRET = "sk_test_stripe_sandbox"
STRIPE_WEBHOOK_SECRET = "whsec_sandbox_stripe"
SANDBOX_SECRETS = {
    "PAYSTACK_SECRET_KEY": PAYSTACK_SECRET,
    "FEDAPAY_SECRET_KEY": FEDAPAY_SECRET,
    "FEDAPAY_WEBHOOK_SECRET": FEDAPAY_WEBHOOK_SECRET,
    "STRIPE_SECRET_KEY": STRIPE_SECRET,
    "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
}
"""Known provider secrets the tests set, so that a test can sign as a provider would."""


def sandbox_settings(**overrides: Any) -> Settings:
    """Settings with short sandbox timings, so scenarios play out in a fraction of a
    second, and a provider timeout no answer but ``no_answer``'s comes near."""
    values: dict[str, Any] = {
        "ENV": Environment.test,
        "SANDBOX_APPROVAL_DELAY_SECONDS": 0.1,
        "SANDBOX_LATENCY_SECONDS": 0.4,
        "SANDBOX_NO_ANSWER_SECONDS": 2 * SHORT_PROVIDER_TIMEOUT_SECONDS,
        "SANDBOX_WEBHOOK_LATE_SECONDS": 1.5,
        "PROVIDER_TIMEOUT_SECONDS": PROVIDER_TIMEOUT_SECONDS,
        "PROVIDER_CONNECT_TIMEOUT_SECONDS": PROVIDER_TIMEOUT_SECONDS,
        **SANDBOX_SECRETS,
    }
    values.update(overrides)
    return Settings(**values)


def impatient(settings: Settings) -> Settings:
    """``settings`` with a provider timeout shorter than the ``no_answer`` scenario's silence."""
    assert SHORT_PROVIDER_TIMEOUT_SECONDS < settings.SANDBOX_NO_ANSWER_SECONDS
    return settings.model_copy(update={"PROVIDER_TIMEOUT_SECONDS": SHORT_PROVIDER_TIMEOUT_SECONDS})


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout_seconds: float = WAIT_SECONDS, what: str = "condition"
) -> Any:
    """``check()``'s first truthy result, trying until ``timeout_seconds`` pass."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {result!r}")
        await asyncio.sleep(WAIT_STEP_SECONDS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes


class WebhookReceiver:
    """Records webhooks posted to it; answers ``status_code`` (200 unless changed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.status_code = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver._received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.status_code
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self.status_code = 200

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    async def wait_for(self, count: int, *, timeout_seconds: float = WAIT_SECONDS) -> list[Received]:
        """At least ``count`` webhooks, waiting up to ``timeout_seconds``."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            received = self.received
            if len(received) >= count:
                return received
            await asyncio.sleep(WAIT_STEP_SECONDS)
        raise AssertionError(f"expected {count} webhooks, got {len(self.received)}: {self.received}")


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@contextmanager
def running_sandbox(settings: Settings, *, webhook_target: str) -> Iterator[str]:
    """Serve the sandbox over real HTTP; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, webhook_target=webhook_target),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The sandbox did not start")
        time.sleep(WAIT_STEP_SECONDS)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def reset(base_url: str) -> None:
    response = httpx.post(f"{base_url}/_sandbox/reset", timeout=5)
    response.raise_for_status()


@dataclass(frozen=True)
class LiveSandbox:
    url: str
    receiver: WebhookReceiver
    settings: Settings
    """Settings whose provider base URLs point at this sandbox."""

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/_sandbox", timeout=WAIT_SECONDS)

    async def listed(self, kind: str, **params: str) -> list[dict[str, Any]]:
        """What the sandbox holds, newest first: ``payments`` (charges it received), ``payouts``
        or ``webhooks`` (what it sent), filtered by ``provider``, ``reference``…"""
        async with self.admin() as admin:
            response = await admin.get(f"/{kind}", params=params)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


@contextmanager
def live_sandbox(**overrides: Any) -> Iterator[LiveSandbox]:
    """A receiver, and the sandbox posting its webhooks to it."""
    settings = sandbox_settings(**overrides)
    with webhook_receiver() as receiver, running_sandbox(settings, webhook_target=receiver.url) as url:
        yield LiveSandbox(
            url=url,
            receiver=receiver,
            settings=settings.model_copy(
                update={
                    "PAYSTACK_BASE_URL": f"{url}/paystack",
                    "FEDAPAY_BASE_URL": f"{url}/fedapay",
                    "STRIPE_BASE_URL": f"{url}/stripe",
                }
            ),
        )


@pytest.fixture(scope="session")
def live() -> Iterator[LiveSandbox]:
    """One sandbox for the whole run (per test folder that uses it)."""
    with live_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(live: LiveSandbox) -> LiveSandbox:
    """The live sandbox, emptied, its settings as they started, with no webhook received yet."""
    reset(live.url)
    live.receiver.clear()
    return live
