"""Outbound webhooks under a burst: ``--events`` events over ``--objects`` objects,
written at once, delivered to one local endpoint, checked in per-object order.

    .venv/bin/python bench/outbound.py [--events 10000] [--objects 100] [--concurrency 16]

Starts its own PostgreSQL (pgserver, in a temporary folder) and migrates it,
makes a platform and a webhook endpoint through the services, pointing at a
receiver on loopback (a threaded HTTP server answering 200, which checks every
signature with the Standard Webhooks reference library when it is installed),
writes the events as the domains do (the events service, 500 per transaction),
then runs the delivery pump's passes (``sika.outbound.service.pump_once``, what
the ``outbound.pump`` job runs) until every event is delivered.

Prints JSON: how long the burst took to deliver, deliveries per second, how many
requests the receiver got (a retry would add some), and whether every object's
events arrived in ``sequence`` order. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg

from sika import worker as jobs_worker
from sika.core import db, migrate
from sika.core.config import Environment, Settings
from sika.core.context import Actor
from sika.events import service as events_service
from sika.outbound import schemas as outbound_schemas
from sika.outbound import service as outbound_service
from sika.platforms import schemas as platforms_schemas
from sika.platforms import service as platforms_service

ADMIN = Actor(id="bench", scopes=frozenset({"admin"}), request_id="bench")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENTS_PER_TRANSACTION = 500
TIMEOUT_SECONDS = 1800


class Arrivals:
    """What the receiver got, in order: per object, the sequences of its events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.ids: set[str] = set()
        self.by_object: dict[str, list[int]] = defaultdict(list)
        self.bad_signatures = 0
        self.verifier: Any = None

    def verify_with(self, secret: str) -> None:
        """Check signatures with the reference library, when it is installed (the dev extra)."""
        try:
            import standardwebhooks
        except ImportError:
            return
        self.verifier = standardwebhooks.Webhook(secret)

    def take(self, headers: dict[str, str], body: bytes) -> None:
        if self.verifier is not None:
            try:
                self.verifier.verify(body, headers)
            except Exception:  # any refusal is counted, and the run goes on
                self.bad_signatures += 1
        event = json.loads(body)
        with self.lock:
            self.requests += 1
            if event["id"] not in self.ids:
                self.ids.add(event["id"])
                self.by_object[event["data"]["id"]].append(event["sequence"])


def serve(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            arrivals.take({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def setup(url: str, settings: Settings, receiver_url: str) -> tuple[str, str]:
    engine = db.make_engine(url, pool_size=2, max_overflow=0)
    sessions = db.make_sessionmaker(engine)
    try:
        async with db.transaction(sessions) as session:
            body = platforms_schemas.PlatformCreate(name="Bench", default_currency="XOF")
            platform = await platforms_service.create_platform(session, body=body, actor=ADMIN, now=NOW)
            create = outbound_schemas.EndpointCreate(url=receiver_url, platform_id=platform.id)
            _, secret = await outbound_service.create_endpoint(
                session, body=create, settings=settings, actor=ADMIN, now=NOW
            )
            return platform.id, secret
    finally:
        await engine.dispose()


async def burst(url: str, platform_id: str, *, events: int, objects: int) -> float:
    """Write the events, ``EVENTS_PER_TRANSACTION`` per transaction; seconds it took."""
    engine = db.make_engine(url, pool_size=2, max_overflow=0)
    sessions = db.make_sessionmaker(engine)
    started = time.perf_counter()
    try:
        for start in range(0, events, EVENTS_PER_TRANSACTION):
            async with db.transaction(sessions) as session:
                for n in range(start, min(start + EVENTS_PER_TRANSACTION, events)):
                    entity = f"po_bench{n % objects:05d}"
                    await events_service.emit(
                        session,
                        type="payout.updated",
                        entity_type="payout",
                        entity_id=entity,
                        data={"id": entity, "n": n},
                        platform_id=platform_id,
                        now=NOW,
                    )
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def deliver(url: str, settings: Settings, arrivals: Arrivals, events: int) -> dict[str, Any]:
    engine = db.make_engine(url, pool_size=4, max_overflow=4)
    sessions = db.make_sessionmaker(engine)
    passes = 0
    started = time.perf_counter()
    try:
        timeout = httpx.Timeout(settings.OUTBOUND_TIMEOUT_SECONDS, connect=settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS)
        limits = httpx.Limits(max_connections=settings.OUTBOUND_CONCURRENCY)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            while len(arrivals.ids) < events:
                if time.perf_counter() - started > TIMEOUT_SECONDS:
                    break
                pumped = await outbound_service.pump_once(sessions, settings=settings, client=client)
                passes += 1
                if not (pumped.attempted or pumped.fanned_out):
                    await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    return {"seconds": time.perf_counter() - started, "passes": passes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sika-bench-outbound-"))
    settings = Settings(ENV=Environment.test, PGDATA_DIR=folder / "pgdata", OUTBOUND_CONCURRENCY=args.concurrency)
    embedded = db.EmbeddedPostgres(data_dir=folder / "pg")
    try:
        server_url = embedded.start()
        with psycopg.connect(db.libpq_url(server_url), autocommit=True) as connection:
            connection.execute("CREATE DATABASE sika_bench")
        url = server_url.replace("/postgres?", "/sika_bench?")
        migrate.upgrade(url)
        jobs_worker.build(url)  # registering the endpoint queues the pump job (unused: the bench pumps itself)
        arrivals = Arrivals()
        server = serve(arrivals)
        receiver_url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        platform_id, secret = asyncio.run(setup(url, settings, receiver_url))
        arrivals.verify_with(secret)
        written = asyncio.run(burst(url, platform_id, events=args.events, objects=args.objects))
        run = asyncio.run(deliver(url, settings, arrivals, args.events))
        server.shutdown()
        in_order = all(seqs == sorted(seqs) for seqs in arrivals.by_object.values())
        report = {
            "events": args.events,
            "objects": args.objects,
            "concurrency": args.concurrency,
            "written_in_s": round(written, 2),
            "delivered": len(arrivals.ids),
            "requests": arrivals.requests,
            "delivered_in_s": round(run["seconds"], 2),
            "deliveries_per_s": round(len(arrivals.ids) / run["seconds"], 1) if run["seconds"] else None,
            "pump_passes": run["passes"],
            "per_object_order_held": in_order,
            "bad_signatures": arrivals.bad_signatures if arrivals.verifier is not None else None,
        }
        print(json.dumps(report, indent=2))
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
