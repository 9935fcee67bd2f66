"""Database: the SQLAlchemy base, the async engine and sessions, and the
embedded PostgreSQL used when no ``DATABASE_URL`` is given.

One request (or one job) is one session and one transaction, committed at
the edge by whoever opened it; services never commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import psutil  # pgserver depends on it and uses it the same way
import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: sa.DateTime(timezone=True)}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    """When the row was written (database clock)."""


def async_url(url: str) -> str:
    """The SQLAlchemy URL for psycopg 3, whatever scheme the operator wrote."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"Not a PostgreSQL URL: {url.split('@')[-1]!r}")


def libpq_url(url: str) -> str:
    """The plain libpq URL (psycopg, procrastinate, psql, pgbench)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled connection idle longer than this is pinged before it is handed out."""
_RETURNED_AT = "sika_returned_at"


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=max_overflow, **kwargs)
    sa.event.listen(engine.sync_engine.pool, "checkin", _returned)
    sa.event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def _returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
    """``pool_pre_ping`` without its round trip on every checkout: a busy pool's
    connections come back within milliseconds of their last statement, alive
    then, so only one idle past ``PING_AFTER_IDLE_SECONDS`` (where a restart, an
    idle timeout or a dropped link hides) is pinged, and one whose socket
    psycopg already saw closed is replaced without asking. Should the server end
    a busy connection in between, that one request fails, and SQLAlchemy then
    throws away every connection of the pool older than the failure (its
    disconnect handling), so a restart costs one request, not one per connection."""
    connection = dbapi_connection.driver_connection
    if connection.closed or connection.pgconn.status != psycopg.pq.ConnStatus.OK:
        raise sa.exc.DisconnectionError("the connection is closed")
    returned_at = record.info.get(_RETURNED_AT)
    if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
        # Ends the transaction the ping opened, so the checkout's own first statement
        # (say, SET TRANSACTION ISOLATION LEVEL) still comes first in its transaction.
        dbapi_connection.rollback()
    except Exception as exc:
        raise sa.exc.DisconnectionError("the connection did not answer a ping") from exc
    finally:
        cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def driver_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under ``session``, in its transaction: for the statements
    the hot requests send every time (the Idempotency-Key's claim and answer, the ledger
    call, the audit row, the webhook intake, the P2P rules), which then skip SQLAlchemy's
    per-statement machinery (building and compiling the statement, its execution context,
    result wrapping, a greenlet hop). What they change is the session's to commit or roll back.

    Kept on the session while its transaction (and savepoint, if one is open) lasts, since
    finding it takes two hops into SQLAlchemy's greenlet. A savepoint begun since is only
    sent by ``session.connection()``: until then the statements of a ``begin_nested`` block
    would run outside it, and its rollback would leave the transaction aborted."""
    kept = session.info.get(_DRIVER)
    if isinstance(kept, _KeptDriver) and kept.serves(session.sync_session):
        return kept.driver
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    _keep_driver(session, driver)
    return driver


_DRIVER = "sika_driver_connection"


@dataclass(frozen=True, slots=True)
class _KeptDriver:
    """The driver connection of one transaction (and savepoint, if one is open), which it
    names by weak references: held strongly, the session's ended transaction would stay in
    a reference cycle (session, its ``info``, the transaction, the session) that only the
    garbage collector frees, some forty objects a request that each of its passes walked."""

    transaction: weakref.ref[SessionTransaction]
    nested: weakref.ref[SessionTransaction] | None
    driver: psycopg.AsyncConnection[Any]

    def serves(self, session: Session) -> bool:
        """Whether ``session`` is still in the transaction and savepoint this was kept for."""
        transaction, nested = session.get_transaction(), session.get_nested_transaction()
        kept_nested = self.nested() if self.nested is not None else None
        return transaction is not None and self.transaction() is transaction and kept_nested is nested


def _keep_driver(session: AsyncSession, driver: psycopg.AsyncConnection[Any]) -> None:
    """Until the session's transaction or savepoint changes (``driver_connection``)."""
    transaction, nested = session.sync_session.get_transaction(), session.sync_session.get_nested_transaction()
    assert transaction is not None, "kept for a transaction in progress"
    session.info[_DRIVER] = _KeptDriver(
        weakref.ref(transaction), weakref.ref(nested) if nested is not None else None, driver
    )


async def execute_plain(session: AsyncSession, statement: str, params: Mapping[str, Any]) -> psycopg.AsyncCursor[Any]:
    """``statement`` (psycopg's ``%(name)s`` style) on ``driver_connection``. A failure
    is raised as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``…), so
    callers and the problem mapping handle one kind of error whichever way a statement went."""
    connection = await driver_connection(session)
    try:
        return await connection.execute(statement, params)
    except psycopg.Error as exc:
        lost = connection.broken or connection.closed
        if lost:
            # As SQLAlchemy does for its own statements: the pool must not take this
            # connection back, and the session's rollback must not be sent on it.
            await (await session.connection()).invalidate(exc)
        raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error, connection_invalidated=lost) from exc


@contextlib.contextmanager
def statements_sent(engine: AsyncEngine | None = None) -> Iterator[list[str]]:
    """Each statement (its first three words) and ``COMMIT`` that ``engine``'s connections
    (every engine's, without one: a worker's own too) checked out while the block runs
    send: for the tests and benchmarks that pin a request's round trips. Counted at
    psycopg's cursors, through which SQLAlchemy's statements and ``execute_plain``'s both pass."""
    sent: list[str] = []

    class Counting(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, params: Any = None, **options: Any) -> Self:
            sent.append(" ".join(str(query).split()[:3]))
            return await super().execute(query, params, **options)

    def counting(dbapi_connection: Any, record: object, proxy: object) -> None:
        dbapi_connection.driver_connection.cursor_factory = Counting

    def plain(dbapi_connection: Any, record: object) -> None:
        dbapi_connection.driver_connection.cursor_factory = psycopg.AsyncCursor

    def on_commit(connection: object) -> None:
        sent.append("COMMIT")

    pool: sa.pool.Pool | type[sa.pool.Pool] = engine.sync_engine.pool if engine is not None else sa.pool.Pool
    committing: sa.Engine | type[sa.Engine] = engine.sync_engine if engine is not None else sa.Engine
    with listening((pool, "checkout", counting), (pool, "checkin", plain), (committing, "commit", on_commit)):
        yield sent


@contextlib.contextmanager
def listening(*listeners: tuple[Any, str, Callable[..., Any]]) -> Iterator[None]:
    """SQLAlchemy event listeners, each ``(target, event name, function)``, for as long as the block runs."""
    for target, name, function in listeners:
        sa.event.listen(target, name, function)
    try:
        yield
    finally:
        for target, name, function in listeners:
            sa.event.remove(target, name, function)


@contextlib.asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: committed when the block ends, rolled back on error; the
    session closed either way, even if the task is cancelled meanwhile.

    What ``async with sessions() as session, session.begin()`` does, in two of
    SQLAlchemy's hops into its greenlet instead of five (the transaction's begin,
    its connection, its commit, the session's close, and ``driver_connection``'s
    lookup): each hop makes a greenlet, and Python gives each one a new frame stack
    (an ``mmap``, then a ``munmap`` when it ends). docs/performance.md ("What a
    request's transaction costs the client") has what each way costs."""
    session = sessions()
    failed = True
    try:
        _keep_driver(session, await session.run_sync(_begin))
        yield session
        failed = False
    finally:
        await _to_completion(session.run_sync(_end, failed=failed))


def _begin(session: Session) -> psycopg.AsyncConnection[Any]:
    session.begin()
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver


def _end(session: Session, *, failed: bool) -> None:
    try:
        if not failed:
            session.commit()
    finally:
        # Rolls back what is not committed, and gives the connection back to the pool.
        session.close()


async def _to_completion(ending: Coroutine[Any, Any, None]) -> None:
    """``ending`` in a task of its own, awaited to its end even if this task is
    cancelled meanwhile (the cancellation is raised after), as SQLAlchemy closes an
    ``async with`` session: abandoned halfway, a connection could be left checked
    out, or go back to a pool disposed of meanwhile."""
    task = asyncio.create_task(ending)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled


@contextlib.asynccontextmanager
async def read_only_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction PostgreSQL refuses to let write: for code that only shows
    (the dashboard's pages), so a write slipped into it fails instead of landing."""
    async with transaction(sessions) as session:
        # The transaction's first statement: taking the connection sent nothing yet.
        await session.execute(sa.text("SET TRANSACTION READ ONLY"))
        yield session


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the ``pgserver`` wheel, in a data folder that
    survives restarts. Stopped on ``stop()`` (or at interpreter exit)."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on headless machines; it is harmless here.
            warnings.simplefilter("ignore")
            import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _EMBEDDED_LOCK:
            with pgserver.postgres_server.PostgresServer._lock:
                _forget_dead_handles(self.data_dir / HANDLES_FILE)
            self._server = pgserver.get_server(  # type: ignore[attr-defined]
                self.data_dir, cleanup_mode="stop"
            )
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


_EMBEDDED_LOCK = threading.Lock()

HANDLES_FILE = ".handle_pids.json"
"""pgserver's list of the processes using the server: the last one to leave stops it."""


def _forget_dead_handles(handles: Path) -> None:
    """Drop from pgserver's handle list every process that is gone.

    A process killed outright (SIGKILL, OOM, power cut) never removes itself, and
    pgserver stops the server only when the leaving process is the last one listed:
    one dead entry would leave the postmaster running after every later clean stop.
    A PID the kernel has since given to a process started after the list was last
    written (give or take a second of clock rounding) is not the one listed, so it
    counts as gone too."""
    try:
        listed: list[int] = json.loads(handles.read_text())
        written_at = handles.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in listed if _alive_since(pid, written_at)]
    if alive != listed:
        handles.write_text(json.dumps(alive))


def _alive_since(pid: int, written_at: float) -> bool:
    try:
        process = psutil.Process(pid)
        return bool(process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= written_at + 1)
    except psutil.Error:
        return False


def resolve_database_url(database_url: str | None, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to use and, when Sika had to start one, the embedded server."""
    if database_url:
        return database_url, None
    embedded = EmbeddedPostgres(data_dir=data_dir.resolve())
    return embedded.start(), embedded
