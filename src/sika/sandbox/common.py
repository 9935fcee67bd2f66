"""Small pieces every fake provider shares: the sandbox from the request,
a JSON body read as the provider would, and the URL the sandbox is reached at."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from sika.sandbox.state import Answer, Sandbox


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def json_body(request: Request, error: Callable[[int, str], JSONResponse]) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise Answer(error(400, "Invalid JSON in the request body")) from None
    if not isinstance(body, dict):
        raise Answer(error(400, "The request body must be a JSON object"))
    return body


def bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def base_url(request: Request) -> str:
    """Where the customer's browser reaches the sandbox (redirect and checkout pages)."""
    return str(request.base_url).rstrip("/")


def as_int(value: object) -> object:
    """Paystack takes amounts as numbers or numeric strings; anything else is left to the check."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def metadata(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("metadata")
    return value if isinstance(value, dict) else {}
