"""Idempotency keys (the money rules in docs/architecture.md).

The claim is an ``INSERT … ON CONFLICT`` in the request's own transaction:
a second request with the same key waits on the unique index until the
first commits (then replays its answer) or rolls back (then runs itself).
So concurrent requests with one key execute once, decided by the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.idempotency import repository

MAX_KEY_LENGTH = 255
PURGE_BATCH_SIZE = 1000


class IdempotencyKeyInvalid(errors.ValidationFailed):
    """The Idempotency-Key header must be 1 to 255 visible ASCII characters."""

    code = "idempotency_key_invalid"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Unanswered:
    """Another request owns the key and has stored no answer: it is still running, or
    its process died between its phases (``sika.core.phases``). ``started_at`` is
    when it claimed the key, what its lease counts from."""

    started_at: datetime


@dataclass(frozen=True)
class Claimed:
    """This request owns the key and must run; ``row_id`` is where its answer goes."""

    row_id: int


class _Number(str):
    """A JSON number as written, so ``1.0`` and ``1`` (or a long decimal and its
    rounded float) stay different requests."""


class _Object(list[tuple[str, object]]):
    """A JSON object's members in the order written, duplicates kept."""


def canonical_body(body: bytes) -> bytes:
    """The body as the key compares it: JSON with its members in key order and no
    insignificant whitespace, so a client that serialises the same object in
    another order sends the same request; a body that is not JSON, as sent."""
    try:
        parsed = json.loads(body, parse_float=_Number, parse_int=_Number, object_pairs_hook=_Object)
        return _canonical(parsed).encode()
    except (ValueError, RecursionError):
        return body


def _canonical(value: object) -> str:
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, _Object):
        members = sorted(value, key=lambda member: member[0])
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" for k, v in members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Of the method, the path and the canonical body (``canonical_body``)."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    # Visible ASCII, 33 to 126: printable ASCII but the space; asked of the string at once
    # rather than of each character in Python, on every claim.
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()) or " " in key:
        raise IdempotencyKeyInvalid()
    return key


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    now: datetime,
    ttl: timedelta,
) -> Claimed | StoredResponse | Unanswered:
    """Own the key, or get the answer already stored under it, or learn that the
    request owning it has none yet.

    An expired key is taken over in the same statement, so expiry needs no
    separate read."""
    row_id = await repository.insert_or_take_over_expired(
        session, owner=owner, key=key, fingerprint=fingerprint, now=now, expires_at=now + ttl
    )
    if row_id is not None:
        return Claimed(row_id=row_id)
    existing = await repository.get(session, owner=owner, key=key)
    assert existing is not None, "the conflicting row is committed, so it is visible"
    if existing.fingerprint != fingerprint:
        raise errors.IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request (method, path or body differ)."
        )
    if existing.response_status is None or existing.response_body is None:
        return Unanswered(started_at=existing.created_at)
    return StoredResponse(
        status=existing.response_status,
        body=existing.response_body,
        content_type=existing.response_content_type or "application/json",
    )


async def store(session: AsyncSession, *, claimed: Claimed, response: StoredResponse) -> None:
    await repository.set_response(
        session,
        row_id=claimed.row_id,
        status=response.status,
        body=response.body,
        content_type=response.content_type,
    )


async def release(session: AsyncSession, *, claimed: Claimed) -> None:
    """Give the key up: the request failed (5xx) and keeps no answer, so its retry runs."""
    await repository.delete(session, row_id=claimed.row_id)


async def store_failure(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    response: StoredResponse,
    now: datetime,
    ttl: timedelta,
) -> None:
    """Remember a domain refusal (4xx) after its transaction rolled back, so a
    retry gets the same answer; if another request took the key meanwhile, it wins."""
    await repository.insert_answered_unless_taken(
        session,
        owner=owner,
        key=key,
        fingerprint=fingerprint,
        expires_at=now + ttl,
        status=response.status,
        body=response.body,
        content_type=response.content_type,
    )


async def purge_expired(session: AsyncSession, *, now: datetime, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete one bounded batch of expired keys; returns how many went."""
    return await repository.delete_expired(session, now=now, batch_size=batch_size)
