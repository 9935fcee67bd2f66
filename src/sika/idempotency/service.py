"""Idempotency keys (DESIGN.md §4 rules 2 and 5).

The claim is an ``INSERT … ON CONFLICT`` in the request's own transaction:
a second request with the same key waits on the unique index until the
first commits (then replays its answer) or rolls back (then runs itself).
So concurrent requests with one key execute once, decided by the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.idempotency.models import IdempotencyKey

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
class Claimed:
    """This request owns the key and must run; ``row_id`` is where its answer goes."""

    row_id: int


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
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
) -> Claimed | StoredResponse:
    """Own the key, or get the answer already stored under it.

    An expired key is taken over in the same statement, so expiry needs no
    separate read."""
    table = IdempotencyKey.__table__
    statement = (
        insert(IdempotencyKey)
        .values(owner=owner, key=key, fingerprint=fingerprint, expires_at=now + ttl)
        .on_conflict_do_update(
            index_elements=["owner", "key"],
            set_={
                "fingerprint": fingerprint,
                "expires_at": now + ttl,
                "response_status": None,
                "response_body": None,
                "response_content_type": None,
                "created_at": sa.func.now(),
            },
            where=table.c.expires_at <= now,
        )
        .returning(IdempotencyKey.id)
    )
    row_id = await session.scalar(statement)
    if row_id is not None:
        return Claimed(row_id=row_id)
    existing = await session.scalar(
        sa.select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    )
    assert existing is not None, "the conflicting row is committed, so it is visible"
    if existing.fingerprint != fingerprint:
        raise errors.IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request "
            "(method, path or body differ)."
        )
    if existing.response_status is None or existing.response_body is None:
        raise errors.IdempotencyKeyInFlight()
    return StoredResponse(
        status=existing.response_status,
        body=existing.response_body,
        content_type=existing.response_content_type or "application/json",
    )


async def store(session: AsyncSession, *, claimed: Claimed, response: StoredResponse) -> None:
    await session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed.row_id)
        .values(
            response_status=response.status,
            response_body=response.body,
            response_content_type=response.content_type,
        )
    )


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
    """Remember a refusal (4xx) after its transaction rolled back, so a retry
    gets the same answer; if another request took the key meanwhile, it wins."""
    await session.execute(
        insert(IdempotencyKey)
        .values(
            owner=owner,
            key=key,
            fingerprint=fingerprint,
            expires_at=now + ttl,
            response_status=response.status,
            response_body=response.body,
            response_content_type=response.content_type,
        )
        .on_conflict_do_nothing(index_elements=["owner", "key"])
    )


async def purge_expired(session: AsyncSession, *, now: datetime, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete one bounded batch of expired keys; returns how many went."""
    doomed = (
        sa.select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id.in_(doomed)))
    return int(result.rowcount)  # type: ignore[attr-defined]
