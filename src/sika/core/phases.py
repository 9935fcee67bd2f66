"""Flows that call a payment provider run in phases (the money rules in docs/architecture.md).

A database transaction is never held open across a provider call: the first
phase records what is about to happen (a collection ``initiated``, a hold
placed) and commits, the provider is called with no transaction open, and
the outcome is recorded in a new transaction. Each commit is a recovery
point: if the process dies after it, reconciliation finds the row in its
recorded state and finishes the work with the provider.

``Phases`` is what such a service is handed. ``first`` is a session whose
transaction is already open (the HTTP edge has authenticated the caller and
claimed the Idempotency-Key in it, so the claim commits with the first
phase); ``commit_first()`` ends it, and ``phase()`` opens each later one.
These are the only places where a service commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db


class PhaseOrderError(RuntimeError):
    """The first phase was used after it had been committed."""


class Phases:
    def __init__(self, *, first: AsyncSession, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._first = first
        self._sessions = sessions
        self.first_committed = False
        """True once the first phase has committed: from then on, work is recorded in the database."""

    @property
    def first(self) -> AsyncSession:
        """The first phase's session, its transaction open."""
        if self.first_committed:
            raise PhaseOrderError("The first phase has already committed; open a new phase")
        return self._first

    async def commit_first(self) -> None:
        """End the first phase: what it wrote is now a recovery point."""
        await self.first.commit()
        self.first_committed = True

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Where later phases open their transactions: for a flow that opens its own (reconciliation)."""
        return self._sessions

    @asynccontextmanager
    async def phase(self) -> AsyncIterator[AsyncSession]:
        """A later phase: its own transaction, committed when the block ends."""
        async with db.transaction(self._sessions) as session:
            yield session


@asynccontextmanager
async def standalone(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Phases]:
    """Phases for a caller with no transaction of its own (a job, the CLI).

    If the first phase was never committed (the flow refused early), its
    transaction rolls back when the block ends."""
    async with sessions() as session:
        await session.begin()
        phases = Phases(first=session, sessions=sessions)
        yield phases
