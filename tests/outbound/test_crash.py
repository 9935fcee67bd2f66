"""A worker SIGKILLed while a delivery is on the wire loses nothing: once its
lease runs out, a worker started again sends the event again, with the same
``webhook-id`` (at least once, never lost)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import pytest

from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import system_actor
from sika.outbound import schemas
from sika.outbound import service as outbound_service
from tests.outbound.conftest import Sessions, emit, scalar
from tests.support.receiver import receiving
from tests.support.workers import end_worker, start_worker

WORKER_ENV = {"SIKA_OUTBOUND_TIMEOUT_SECONDS": "3", "SIKA_ENV": "test"}
"""Leases of 3 × 4 + 5 s: the event goes again soon after the kill, at the next minute's pump at most."""
DELIVERED_TIMEOUT_SECONDS = 120


@pytest.mark.slow
async def test_a_delivery_cut_by_sigkill_is_sent_again_with_its_webhook_id(
    database_url: str, sessions: Sessions, settings: Settings, tmp_path: Path, app: object
) -> None:
    """``app`` installs the jobs app, through which registering the endpoint queues the pump."""
    log = tmp_path / "worker.log"
    hold = threading.Event()
    with receiving(hang=hold) as receiver:
        async with db.transaction(sessions) as session:
            await outbound_service.create_endpoint(
                session,
                body=schemas.EndpointCreate(url=receiver.url, platform_id="plt_default"),
                settings=settings,
                actor=system_actor("test"),
                now=clock.now(),
            )
        event_id = await emit(sessions, "po_through_a_crash")  # registering the endpoint queued the pump
        worker = start_worker(database_url, log, "--concurrency", "2", env=WORKER_ENV)
        try:
            await asyncio.to_thread(receiver.wait_for, 1, 60)
            end_worker(worker, signal.SIGKILL)  # the request is on the wire, unanswered
            receiver.hang = None
            hold.set()
            assert await scalar(sessions, "SELECT status FROM outbound_deliveries") == "pending"

            worker = start_worker(database_url, log, "--concurrency", "2", env=WORKER_ENV)
            deadline = time.monotonic() + DELIVERED_TIMEOUT_SECONDS
            while await scalar(sessions, "SELECT status FROM outbound_deliveries") != "succeeded":
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(end_worker, worker, signal.SIGTERM)
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
