"""The grouped write path for standalone transfers (docs/architecture.md, Money).

Transfers submitted while a group is being written wait for the next group;
a group is sent as one call of ``ledger_apply_transfers`` on an autocommit
connection, so it is one transaction and one round trip, committed with
``synchronous_commit`` left as the server has it (on: an answered transfer
survives a crash). The function checks each transfer in order, so a refused
transfer does not fail its neighbours, and it updates a hot account once
per group. There is no timer: a lone transfer is sent at once, and groups
grow by themselves as load grows, because arrivals gather while the
previous group commits.

One transfer cannot fail the others. Its metadata is encoded as it is
submitted, so JSON the database would refuse fails that caller alone; and
when the database refuses a group's statement for what one transfer holds
(text it cannot store, a constraint its row breaks), the group is written
again in halves, down to that transfer alone: the others commit, and it gets
its own error. Only a failure of the database itself (the connection lost
again and again) fails a whole group.

One batcher per event loop and database, with its own few connections
(``MAX_GROUPS_IN_FLIGHT``): groups in flight at once overlap one group's
commit with the next one's work.
"""

from __future__ import annotations

import asyncio
import collections
import random
import weakref
from dataclasses import dataclass
from datetime import datetime

import psycopg
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core.db import libpq_url
from sika.ledger import repository

log = structlog.get_logger(__name__)

MAX_GROUP_SIZE = 256
"""Transfers in one group at most: bounds one statement's locks and time."""
MAX_GROUPS_IN_FLIGHT = 3
"""Groups being written at once per batcher, each on its own connection."""
MAX_ATTEMPTS = 5
"""Tries of one group after a deadlock, a serialization failure or a lost connection."""
RETRY_BASE_SECONDS = 0.005
APPLICATION_NAME = "sika-ledger-batcher"
"""How the grouped path's connections show in ``pg_stat_activity``."""

GROUP_SIZE = Histogram(
    "sika_ledger_group_size",
    "Transfers per group on the grouped write path",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_RETRIES = Counter("sika_ledger_group_retries_total", "Groups tried again, by reason", ["reason"])

_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
ITEM_DATA_ERRORS = (psycopg.DataError, UnicodeEncodeError)
"""A statement refused for a value one transfer holds (U+0000 in text, a lone
surrogate, invalid JSON): that transfer's input is bad."""
_ITEM_ERRORS = (*ITEM_DATA_ERRORS, psycopg.IntegrityError)
"""Failures a group's statement can owe to one of its transfers: its values,
a constraint its row breaks, or a concurrent writer of its id."""


@dataclass
class _Pending:
    request: repository.TransferRequest
    metadata_json: str | None
    """The request's metadata, encoded before it joins a group."""
    now: datetime
    future: asyncio.Future[repository.AppliedRow]


class TransferBatcher:
    def __init__(
        self,
        conninfo: str,
        *,
        max_group_size: int = MAX_GROUP_SIZE,
        max_in_flight: int = MAX_GROUPS_IN_FLIGHT,
    ) -> None:
        self._conninfo = conninfo
        self._max_group_size = max_group_size
        self._max_in_flight = max_in_flight
        self._queue: collections.deque[_Pending] = collections.deque()
        self._idle: list[psycopg.AsyncConnection[tuple[object, ...]]] = []
        self._in_flight = 0
        self._ids_in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatch_scheduled = False

    async def submit(self, request: repository.TransferRequest, *, now: datetime) -> repository.AppliedRow:
        """The database's answer for ``request``, once its group has committed.
        Raises ``TypeError`` or ``ValueError`` at once on metadata that is not JSON."""
        metadata_json = repository.encode_metadata(request.metadata)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[repository.AppliedRow] = loop.create_future()
        self._queue.append(_Pending(request=request, metadata_json=metadata_json, now=now, future=future))
        if not self._dispatch_scheduled:
            # Dispatch after the callers already woken in this turn of the loop
            # have submitted too, so they travel together. A cancelled caller
            # only cancels its own future; its group is written regardless.
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    async def close(self) -> None:
        """Answer every transfer already submitted, then close the connections."""
        while self._queue or self._tasks:
            if not self._tasks:
                # Submitted in this turn of the loop: their dispatch may not have run yet.
                self._dispatch()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        while self._queue and self._in_flight < self._max_in_flight:
            group = self._take_group()
            if not group:
                # What is left repeats ids being written: the groups writing
                # them dispatch again when they finish.
                break
            self._in_flight += 1
            self._ids_in_flight.update(item.request.id for item in group)
            task = asyncio.get_running_loop().create_task(self._write(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take_group(self) -> list[_Pending]:
        """Up to ``max_group_size`` transfers with distinct ids. An id already
        in this group or in one being written waits until that write is over,
        so it is answered from the first one's row: sent alongside it, it
        would fail its whole group on the unique id."""
        group: list[_Pending] = []
        seen = set(self._ids_in_flight)
        held_back: list[_Pending] = []
        while self._queue and len(group) < self._max_group_size:
            item = self._queue.popleft()
            if item.future.done():
                continue
            if item.request.id in seen:
                held_back.append(item)
                continue
            seen.add(item.request.id)
            group.append(item)
        self._queue.extendleft(reversed(held_back))
        return group

    async def _write(self, group: list[_Pending]) -> None:
        try:
            GROUP_SIZE.observe(len(group))
            await self._write_group(group)
        finally:
            self._in_flight -= 1
            self._ids_in_flight.difference_update(item.request.id for item in group)
            if self._queue and not self._dispatch_scheduled:
                self._dispatch_scheduled = True
                asyncio.get_running_loop().call_soon(self._dispatch)

    async def _write_group(self, group: list[_Pending], *, split: bool = False) -> None:
        """Write ``group`` in one statement. If the database refuses it for
        what one of its transfers holds, write each half on its own, and so
        on down to that transfer alone (about 2·log2(n) statements): the
        others commit and it gets its own error. A part (``split``) looks its
        ids up, as a retry does: what an attempt of the whole may have
        committed before its answer was lost is answered from the stored rows."""
        try:
            rows = await self._apply(group, check_existing=True if split else None)
        except _ITEM_ERRORS as exc:
            if len(group) == 1:
                await self._write_alone(group[0], exc)
            else:
                GROUP_RETRIES.labels(reason="split").inc()
                middle = len(group) // 2
                await self._write_group(group[:middle], split=True)
                await self._write_group(group[middle:], split=True)
            return
        except Exception as exc:
            _fail(group, exc)
            return
        for item, row in zip(group, rows, strict=True):
            if not item.future.done():
                item.future.set_result(row)

    async def _write_alone(self, item: _Pending, refused: Exception) -> None:
        if not isinstance(refused, psycopg.IntegrityError):
            _fail([item], refused)
            return
        # Most likely a concurrent writer of the same id won the race and has
        # committed by now: the retry is answered from its row.
        try:
            (row,) = await self._apply([item], check_existing=True)
        except Exception as exc:
            _fail([item], exc)
            return
        if not item.future.done():
            item.future.set_result(row)

    async def _apply(self, group: list[_Pending], *, check_existing: bool | None) -> list[repository.AppliedRow]:
        parameters = repository.apply_parameters(
            [item.request for item in group],
            now=max(item.now for item in group),
            atomic=False,
            lock_retries=0,
            check_existing=check_existing,
            encoded_metadata=[item.metadata_json for item in group],
        )
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if attempt > 1:
                # An earlier attempt may have committed before its answer was lost.
                parameters["check_existing"] = True
            connection = await self._connection()
            try:
                cursor = await connection.execute(*repository.call(parameters), binary=True)
                rows = await cursor.fetchall()
            except _RETRYABLE as exc:
                self._idle.append(connection)
                if attempt == MAX_ATTEMPTS:
                    raise
                GROUP_RETRIES.labels(reason=type(exc).__name__).inc()
            except psycopg.OperationalError:
                # The connection is gone; the group may or may not have
                # committed. Sending it again is safe: its ids are fixed, so
                # what did commit is answered from the stored rows.
                await connection.close()
                if attempt == MAX_ATTEMPTS:
                    raise
                GROUP_RETRIES.labels(reason="connection_lost").inc()
            except BaseException:
                idle = psycopg.pq.TransactionStatus.IDLE
                if connection.closed or connection.info.transaction_status != idle:
                    await connection.close()
                else:
                    self._idle.append(connection)
                raise
            else:
                self._idle.append(connection)
                return repository.applied_rows(rows)
            await asyncio.sleep(RETRY_BASE_SECONDS * attempt * (1 + random.random()))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, application_name=APPLICATION_NAME)


def _fail(items: list[_Pending], exc: Exception) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(exc)


_batchers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[AsyncEngine, TransferBatcher]
] = weakref.WeakKeyDictionary()


def conninfo_of(engine: AsyncEngine) -> str:
    return libpq_url(engine.url.render_as_string(hide_password=False))


def for_engine(engine: AsyncEngine) -> TransferBatcher:
    """This event loop's batcher for ``engine``'s database, made on first use."""
    by_engine = _batchers.get(asyncio.get_running_loop())
    if by_engine is None:
        by_engine = _batchers[asyncio.get_running_loop()] = weakref.WeakKeyDictionary()
    batcher = by_engine.get(engine)
    if batcher is None:
        batcher = by_engine[engine] = TransferBatcher(conninfo_of(engine), max_in_flight=MAX_GROUPS_IN_FLIGHT)
    return batcher


async def close_for_engine(engine: AsyncEngine) -> None:
    """Close this event loop's batcher for ``engine`` (when the app shuts down)."""
    by_engine = _batchers.get(asyncio.get_running_loop())
    batcher = by_engine.pop(engine, None) if by_engine is not None else None
    if batcher is not None:
        await batcher.close()


async def close_all() -> None:
    """Close this event loop's batchers (at shutdown, and between tests)."""
    loop = asyncio.get_running_loop()
    by_engine = _batchers.pop(loop, None)
    for batcher in list(by_engine.values()) if by_engine is not None else []:
        await batcher.close()
