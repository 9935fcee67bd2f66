"""CPU per request of the API, in-process: the real app over ASGI, on a real PostgreSQL.

    .venv/bin/python bench/request_cpu.py [--requests 2000] [--callers 16] [--wallets 64]
        [--routes transfers,holds,captures,webhooks] [--profile ROUTE]

Starts its own PostgreSQL (pgserver, in a temporary folder), migrates it, makes
a key with the admin and platform scopes (bound to the only platform, so the
platform filter runs, as for a platform's own traffic), builds the app with
``create_app`` and runs its lifespan, then calls it as an ASGI server would (no
sockets, no HTTP parsing) from ``--callers`` concurrent tasks:

* ``transfers``: ``POST /v1/ledger/transfers`` between random pairs of funded
  ledger accounts (the figure the others are compared with);
* ``holds``: ``POST /v1/wallets/{id}/holds`` of 100 to 1,000 XOF on random wallets;
* ``captures``: ``POST /v1/holds/{id}/capture`` of each of those holds to the
  next wallet, less a platform fee (``bench/http_api.py``'s holds workload,
  its two halves measured apart);
* ``webhooks``: ``POST /v1/webhooks/paystack``, signed Paystack ``charge.success``
  events, a new one each (``bench/http_api.py``'s webhook lines, about made-up
  collections: the intake stores and queues an event without reading what it is
  about). Only the intake: no worker runs, so the events wait.

For each route it prints the process CPU milliseconds per request
(``time.process_time``: this process runs the app and the callers, not
PostgreSQL), the Python function calls per request (from ``cProfile``, in a run
of its own), the SQL statements and commits the app sent per request, and the
requests per second (wall time: on a shared machine, read it as a hint only).
Every answer must be the route's success status, or the bench stops.

``--profile ROUTE`` also prints that route's top functions by own time to stderr.
Prints JSON. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import http_api
from fastapi import FastAPI

from sika import worker
from sika.app import create_app
from sika.core import db, serving
from sika.core import logging as sika_logging
from sika.core.config import Settings

PLATFORM_FEE_MINOR = http_api.PLATFORM_FEE_MINOR
WARM_UP_REQUESTS = 200
"""Requests per route before it is measured: caches filled, statements compiled."""

Call = Callable[[int], Awaitable[None]]
ROUTES = ("transfers", "holds", "captures", "webhooks")


class Asgi:
    """Calls the app as an ASGI server would; any answer but the expected one stops the bench."""

    def __init__(self, app: FastAPI, key: str) -> None:
        self.app = app
        self.auth = f"Bearer {key}".encode()
        self.keys = itertools.count()

    async def post(self, path: str, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
        headers = [(b"authorization", self.auth), (b"idempotency-key", f"request-cpu-{next(self.keys)}".encode())]
        return await self.send(path, json.dumps(body).encode(), headers, expect=expect)

    async def webhook(self, line: str) -> None:
        """One of ``http_api.webhook_lines``: its path, its body and its Paystack signature."""
        path, body, signature = line.split("\t")
        answer = await self.send(path, body.encode(), [(b"x-paystack-signature", signature.encode())], expect=200)
        if answer != {"received": True, "duplicate": False}:
            raise SystemExit(f"POST {path} answered {answer}")

    async def send(self, path: str, raw: bytes, extra: list[tuple[bytes, bytes]], *, expect: int) -> dict[str, Any]:
        headers = [
            *extra,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"host", b"bench"),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        received = False
        status: list[int] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer = b"".join(chunks)
        if status != [expect]:
            raise SystemExit(f"POST {path} answered {status}: {answer.decode(errors='replace')}")
        loaded: dict[str, Any] = json.loads(answer)
        return loaded


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan, as a server runs it (the key cache listens, the batcher starts)."""
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + http_api.START_TIMEOUT_SECONDS
        while not app.state.key_cache.listening:
            if time.monotonic() > deadline:
                raise SystemExit("the key cache never listened")
            await asyncio.sleep(0.02)
        yield


async def run(call: Call, numbers: Sequence[int], callers: int) -> None:
    queue = iter(numbers)

    async def caller() -> None:
        for number in queue:
            await call(number)

    await asyncio.gather(*(caller() for _ in range(callers)))


async def measure(
    app: FastAPI, name: str, call: Call, numbers: Sequence[int], *, callers: int, profile: bool
) -> dict[str, Any]:
    """Two runs over halves of ``numbers``: the first timed, the second under cProfile."""
    half = len(numbers) // 2
    timed, profiled = numbers[:half], numbers[half:]
    with db.statements_sent(app.state.engine) as sent:
        cpu, wall = time.process_time(), time.perf_counter()
        await run(call, timed, callers)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    profiler = cProfile.Profile()
    profiler.enable()
    await run(call, profiled, callers)
    profiler.disable()
    stats = pstats.Stats(profiler)
    if profile:
        print(f"---- {name}: top functions by own time", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
    return {
        "requests": len(timed),
        "cpu_ms_per_request": round(cpu * 1000 / len(timed), 3),
        "python_calls_per_request": round(stats.total_calls / len(profiled)),  # type: ignore[attr-defined]
        "statements_per_request": round(sum(line != "COMMIT" for line in sent) / len(timed), 2),
        "commits_per_request": round(sent.count("COMMIT") / len(timed), 2),
        "requests_per_second": round(len(timed) / wall, 1),
    }


async def measure_all(app: FastAPI, key: str, args: argparse.Namespace) -> dict[str, Any]:
    api = Asgi(app, key)
    wanted = set(args.routes)
    accounts = await http_api.open_accounts(api, args.accounts) if "transfers" in wanted else []
    opened = await http_api.open_wallets(api, args.wallets) if wanted & {"holds", "captures"} else []
    wallets = [wallet for _, wallet in opened]
    holds: dict[int, tuple[str, str]] = {}
    warm = range(WARM_UP_REQUESTS)
    measured = range(WARM_UP_REQUESTS, WARM_UP_REQUESTS + 2 * args.requests)
    # Signed before the runs, so that the measured CPU is the intake's, not the signing's.
    references = [f"col_request_cpu_{number}" for number in range(args.wallets)]
    webhooks = dict(enumerate(http_api.webhook_lines(references, range(measured.stop)))) if "webhooks" in wanted else {}

    async def transfer(_: int) -> None:
        debit, credit = random.sample(accounts, 2)
        await api.post("/v1/ledger/transfers", http_api.transfer_body(debit, credit, random.randint(1, 1000), "bench"))

    async def hold(number: int) -> None:
        index = random.randrange(len(wallets))
        body = {"amount_minor": random.randint(100, 1000), "reason": "bench order"}
        placed = await api.post(f"/v1/wallets/{wallets[index]}/holds", body)
        holds[number] = (str(placed["id"]), wallets[(index + 1) % len(wallets)])

    async def capture(number: int) -> None:
        hold_id, destination = holds[number]
        body = {"destination_wallet_id": destination, "platform_fee_minor": PLATFORM_FEE_MINOR}
        await api.post(f"/v1/holds/{hold_id}/capture", body, expect=200)

    async def webhook(number: int) -> None:
        await api.webhook(webhooks[number])

    calls: dict[str, Call] = {"transfers": transfer, "holds": hold, "captures": capture, "webhooks": webhook}
    results = {}
    for name in (route for route in ROUTES if route in wanted):
        await run(calls[name], warm, args.callers)
        results[name] = await measure(
            app, name, calls[name], measured, callers=args.callers, profile=args.profile == name
        )
    return results


def routes(text: str) -> list[str]:
    """``--routes``: some of ``ROUTES``; the captures take the holds' holds, so they come with them."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(ROUTES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown routes {unknown}; choose from {', '.join(ROUTES)}")
    if "captures" in chosen and "holds" not in chosen:
        raise argparse.ArgumentTypeError("the captures capture the holds' holds: name holds too")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--requests", type=int, default=2000, help="Measured requests per route (and as many profiled)."
    )
    parser.add_argument("--callers", type=int, default=16, help="Concurrent callers.")
    parser.add_argument("--accounts", type=int, default=32, help="Ledger accounts for the transfers.")
    parser.add_argument("--wallets", type=int, default=64, help="Wallets for the holds.")
    parser.add_argument("--profile", choices=ROUTES, help="Print this route's profile.")
    parser.add_argument(
        "--routes",
        type=routes,
        default=list(ROUTES),
        help=f"Routes to measure, comma-separated (all: {','.join(ROUTES)}).",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sika-request-cpu-"))
    embedded, url = http_api.start_database(work / "pg")
    try:
        os.environ.update(
            {
                "SIKA_ENV": "development",
                "SIKA_RATE_LIMIT_PER_KEY": http_api.UNLIMITED,
                "SIKA_RATE_LIMIT_PER_ADDRESS": http_api.UNLIMITED,
                "SIKA_RATE_LIMIT_WEBHOOKS_PER_PROVIDER": http_api.UNLIMITED,
            }
        )
        sika_logging.configure()
        key = asyncio.run(http_api.create_admin_key(url))

        # As ``sika.asgi`` does: the app's jobs (the webhooks' processing) are deferred through it.
        worker.build(url)

        async def measured() -> dict[str, Any]:
            app = create_app(Settings(), database_url=url)
            # As the servers do once built (``sika run``, ``sika.asgi:create``).
            serving.tune_garbage_collection()
            async with served(app):
                return await measure_all(app, key, args)

        results = asyncio.run(measured())
    finally:
        embedded.stop()
    print(
        json.dumps(
            {
                "benchmark": "request_cpu",
                "callers": args.callers,
                "wallets": args.wallets,
                "routes": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
