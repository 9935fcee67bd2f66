"""What the garbage collector alone would free: the objects a block left in
reference cycles, which reference counting cannot free when they go out of use."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

SESSION_OBJECTS = (AsyncSession, Session, SessionTransaction, Connection)


@contextmanager
def left_in_cycles() -> Iterator[list[object]]:
    """Fills the list it gives with the SQLAlchemy sessions, transactions and
    connections that the block left for the collector, once the block has ended.
    The collector stays off meanwhile, so nothing is freed behind the count."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    found: list[object] = []
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.extend(thing for thing in gc.garbage if isinstance(thing, SESSION_OBJECTS))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
