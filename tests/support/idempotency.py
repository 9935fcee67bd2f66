"""The tests' HTTP clients send a fresh Idempotency-Key with every POST that has
none, as a careful client does: the routes that move money refuse a POST
without one (428 ``idempotency_key_required``). A test that means to send no
key says so per request (``client.post(..., extensions=NO_KEY)``) or uses a
client made without these hooks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

IDEMPOTENCY_HEADER = "Idempotency-Key"
NO_KEY_EXTENSION = "sika_no_idempotency_key"
NO_KEY: dict[str, Any] = {NO_KEY_EXTENSION: True}
"""Request extensions that keep the hooks from adding a key."""


def _add_key(request: httpx.Request) -> None:
    if request.method != "POST" or IDEMPOTENCY_HEADER in request.headers:
        return
    if request.extensions.get(NO_KEY_EXTENSION):
        return
    request.headers[IDEMPOTENCY_HEADER] = f"test-{uuid.uuid4().hex}"


async def _add_key_async(request: httpx.Request) -> None:
    _add_key(request)


HOOKS: dict[str, list[Any]] = {"request": [_add_key_async]}
"""``event_hooks`` for an ``httpx.AsyncClient``."""
SYNC_HOOKS: dict[str, list[Any]] = {"request": [_add_key]}
"""``event_hooks`` for an ``httpx.Client``."""
