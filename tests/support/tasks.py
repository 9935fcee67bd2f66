"""Concurrency in tests without leftovers.

All tests share one event loop. A task that a test leaves running (say, the
other callers of a ``gather`` whose first caller failed) goes on into the
next tests with its database connections, after its own database is
dropped; whatever it then does, a connection collected while still open
included, is blamed on whichever test happens to be running. So tests start
concurrent work with ``all_of``, and a folder's conftest imports the
fixtures below, which settle what is left before the database goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sika.ledger import batcher

T = TypeVar("T")


async def all_of(*coroutines: Coroutine[Any, Any, T]) -> list[T]:
    """Run the coroutines at once; their results, in order. If one fails, the
    others are cancelled and awaited before the failure is raised (in an
    ExceptionGroup), so none of them outlives the test."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coroutine) for coroutine in coroutines]
    return [task.result() for task in tasks]


TESTS_FOLDER = str(Path(__file__).resolve().parents[1])


def _started_by_a_test(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(TESTS_FOLDER)


@pytest.fixture
async def nothing_left_running() -> AsyncIterator[None]:
    """After the test, passed or failed: cancel and await the tasks it left
    running (its own, and those of libraries it used, such as an in-memory
    rate limiter's timer), close the ledger's grouped-path connections, and
    fail the test if tasks of its own were left running."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() - before if task is not current and not task.done()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
    await batcher.close_all()
    left_by_the_test = [task for task in leftovers if _started_by_a_test(task)]
    assert not left_by_the_test, f"the test left tasks running: {left_by_the_test}"


@pytest.fixture(autouse=True)
def settled(request: pytest.FixtureRequest) -> None:
    """``nothing_left_running`` around every test of the folder, torn down
    before the test's engine and database: the engine, when the test has one,
    is set up first, and fixtures are torn down in the reverse order."""
    if "engine" in request.fixturenames:
        request.getfixturevalue("engine")
    request.getfixturevalue("nothing_left_running")
