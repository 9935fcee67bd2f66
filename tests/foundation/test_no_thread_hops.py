"""No route hops to a worker thread: FastAPI runs a plain ``def`` endpoint or
dependency in its thread pool, a hand-off to another thread and back on every
request (and a contended GIL under load) for code that only reads the request."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI

from tests.support.routes import api_routes


def _on_the_loop(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


def test_every_endpoint_and_dependency_runs_on_the_event_loop(app: FastAPI) -> None:
    routes = api_routes(app.routes)
    assert len(routes) > 100
    in_threads = sorted(
        {
            f"{call.__module__}.{call.__qualname__} ({route.path})"
            for route in routes
            for call in (route.original.endpoint, *route.dependency_calls())
            if not _on_the_loop(call)
        }
    )
    assert in_threads == []
