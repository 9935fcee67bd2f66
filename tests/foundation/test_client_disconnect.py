"""A client that goes away while its request is read is no server error: the request
is answered 499 and logged in one line, never as an unhandled error with a traceback
(a burst of those, drawn one by one, once kept an API process busy for seconds)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI

from tests.support.asgi import http_scope


async def call_then_leave(app: FastAPI, path: str) -> list[MutableMapping[str, Any]]:
    """POST to ``path``, send half a body, then disconnect; what the app sent back."""
    headers = [(b"host", b"sika.test"), (b"content-type", b"application/json"), (b"content-length", b"100")]
    scope = http_scope("POST", path, headers)
    incoming: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": b'{"event": "charge.su', "more_body": True},
        {"type": "http.disconnect"},
    ]
    messages = iter(incoming)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("path", "answered"),
    [
        # A route that reads its raw body itself (to verify a signature) meets the disconnect.
        ("/v1/webhooks/paystack", [499]),
        # A JSON route's body is read by the text guard first, which stops at the disconnect.
        ("/v1/parties", []),
    ],
)
async def test_a_client_gone_mid_body_is_no_error(
    app: FastAPI, path: str, answered: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    sent = await call_then_leave(app, path)
    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert [start["status"] for start in starts] == answered
    logged = capsys.readouterr().err
    assert "unhandled_error" not in logged
    assert "Traceback" not in logged
