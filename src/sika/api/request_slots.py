"""How many requests of one API process may run a database transaction at once
(``SIKA_DB_REQUEST_SLOTS``); the others wait their turn, first come first served.

Without a bound, every connection a client opens becomes a PostgreSQL backend
at work: on 2 cores, two processes at 64 connections ran 40 backends against
each other and moved fewer transfers than at 16 (docs/performance.md, "A slot
per request's transaction"). With the bound, the backends stay few and busy, and
the rest of the requests queue in the process, where waiting costs nothing.

A request takes its slot once its body has arrived, so a client that sends
slowly holds none: ``TextGuardMiddleware`` has read a JSON or form body
already, and a body the route reads raw (the webhooks') is read here. A slot is
waited for at most ``SIKA_DB_REQUEST_SLOT_WAIT_SECONDS``; then the answer is
503 ``service_busy`` with Retry-After, before anything is claimed or changed,
so the retry with the same Idempotency-Key runs. ``/metrics`` shows the requests
waiting (``sika_request_slots_waiting``) and those turned away
(``sika_request_slot_timeouts_total``): what to watch when sizing the slots."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import Counter, Gauge

from sika.core import errors
from sika.core.config import Settings

RETRY_AFTER_SECONDS = 1

WAITING = Gauge("sika_request_slots_waiting", "Requests waiting for a transaction slot")
TIMED_OUT = Counter(
    "sika_request_slot_timeouts_total", "Requests answered 503 service_busy: no transaction slot came free in time"
)


class ServiceBusy(errors.ServiceUnavailable):
    """Every transaction slot of the process stayed taken while the request waited; retry shortly."""

    code = "service_busy"
    title = "Service busy"


class RequestSlots:
    def __init__(self, slots: int, *, wait_seconds: float) -> None:
        self.slots = slots
        """0: no bound (each request's transaction waits only for the pool)."""
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(slots) if slots else None

    @classmethod
    def of(cls, settings: Settings) -> RequestSlots:
        return cls(settings.DB_REQUEST_SLOTS, wait_seconds=settings.DB_REQUEST_SLOT_WAIT_SECONDS)

    async def run(self, request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
        """``handler(request)`` once a slot is free, and the slot freed when it returns."""
        free = self._free
        if free is None:
            return await handler(request)
        # Starlette keeps the body it read, and the route reads it from there.
        await request.body()
        if free.locked():
            await self._wait_for(free)
        else:
            await free.acquire()
        try:
            return await handler(request)
        finally:
            free.release()

    async def _wait_for(self, free: asyncio.Semaphore) -> None:
        WAITING.inc()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await free.acquire()
        except TimeoutError:
            TIMED_OUT.inc()
            raise ServiceBusy(
                f"All {self.slots} of this server's slots for a request's transaction stayed taken for "
                f"{self.wait_seconds:g} s; retry shortly.",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            ) from None
        finally:
            WAITING.dec()
