"""Signing webhooks that Sika sends, by the Standard Webhooks specification
(https://www.standardwebhooks.com): a platform's endpoints and the operators'
alert webhook are signed alike, so one verifier (any of the specification's
libraries) checks both.

A secret is ``whsec_`` followed by the base64 of 24 random bytes; the signature
of a message is ``v1,`` and the base64 of the HMAC-SHA256, under the secret's
bytes, of ``<webhook-id>.<webhook-timestamp>.<body>``. Several signatures are
separated by spaces: during a rotation both secrets sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one message under one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a signed message, one signature per secret."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_),
    }
