"""What Sika sent a provider and what it answered, kept for the payment's timeline.

``http.call`` notes each request it sends (``note``) to the recording the flow
opened around its provider call (``recording``), if any; the flow stores the
notes in the transaction of the phase that follows the call, so no transaction
is open across it. Everything noted goes through ``redact`` first: no secret,
card data, signature, authorization code, OTP or phone number reaches a note.
Headers are never noted (they carry our credentials)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REDACTED = "[redacted]"
SENSITIVE_KEY_PARTS = (
    "secret",
    "password",
    "authorization",
    "signature",
    "otp",
    "pin",
    "card",
    "cvv",
    "cvc",
    "token",
    "payment_method",
    "api_key",
    "apikey",
    "bin",
    "last4",
    "exp_",
    "phone",
    "msisdn",
    "mobile",
    "account_number",
    "iban",
)
"""A field whose name contains one of these (any case) is replaced whole, whatever it holds:
credentials, card data (Paystack's reusable ``authorization``, Stripe's ``payment_method``),
OTPs and PINs, and the customer's phone number."""
_SECRET_VALUE = re.compile(r"\b(?:sk|pk|rk|whsec|pm|tok|card|src|seti|pi_\w+_secret)_[A-Za-z0-9_]+|\b\d{12,19}\b")
"""Values that are secrets or card data wherever they appear: API and webhook keys, Stripe's
card tokens and client secrets, and runs of 12–19 digits (card numbers, phone numbers)."""
MAX_TEXT_CHARS = 2_000
"""A body that is not JSON is kept as text up to here."""


@dataclass(frozen=True)
class Note:
    provider: str
    method: str
    path: str
    """The URL's path (no host, no query: a query is in ``request``)."""
    request: dict[str, Any]
    """What was sent (``json``, ``data``, ``params``), redacted."""
    status_code: int | None
    """None: no answer (refused connection, timeout)."""
    response: Any
    """The answer's JSON (or text), redacted."""
    error: str | None
    started_at: datetime
    duration_ms: int


def redact(value: Any, *, key: str = "") -> Any:
    """``value`` with every sensitive field replaced and every secret-shaped string masked."""
    if any(part in key.lower() for part in SENSITIVE_KEY_PARTS):
        return REDACTED
    if isinstance(value, dict):
        return {str(name): redact(inner, key=str(name)) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [redact(inner) for inner in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value


_recording: ContextVar[list[Note] | None] = ContextVar("sika_provider_calls", default=None)


@contextmanager
def recording() -> Iterator[list[Note]]:
    """Collect the notes of the provider calls made inside the block (and in tasks it starts)."""
    notes: list[Note] = []
    token = _recording.set(notes)
    try:
        yield notes
    finally:
        _recording.reset(token)


def note(made: Note) -> None:
    """Add a call to the recording in progress; a call made outside any recording is not kept."""
    notes = _recording.get()
    if notes is not None:
        notes.append(made)
