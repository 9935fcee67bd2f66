"""Calling the app in-process, as an ASGI server would: a client over
``httpx.ASGITransport``, and the scope of a request for tests that drive the
app's ``receive`` and ``send`` themselves (a body sent slowly, a client gone)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support import idempotency as idempotency_hooks

BASE_URL = "http://sika.test"


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` that sends a fresh Idempotency-Key with every POST that has none
    (``tests.support.idempotency``); the app's errors come back as answers, not exceptions."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, event_hooks=idempotency_hooks.HOOKS) as client:
        yield client


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]], *, port: int = 50000) -> dict[str, Any]:
    """The scope of an HTTP/1.1 request from 127.0.0.1:``port`` (``headers`` as sent, host included)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", port),
        "server": ("sika.test", 80),
    }
