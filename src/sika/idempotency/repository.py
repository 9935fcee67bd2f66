"""The idempotency keys table's statements. A key is one row per (owner, key),
claimed by an ``INSERT … ON CONFLICT`` so the unique index decides between
concurrent requests.

Every money request makes two writes (the claim, the answer): they are plain
statements built once and sent on the session's driver connection
(``db.execute_plain``), where an ORM-enabled or Core statement was built,
compiled and wrapped by SQLAlchemy on each request."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import db
from sika.idempotency.models import IdempotencyKey

_KEYS: sa.Table = IdempotencyKey.__table__  # type: ignore[assignment]


# CLAIM and ANSWER are public for bench/http_floor.py, which sends them as a request does.
CLAIM = """
INSERT INTO idempotency_keys (owner, key, fingerprint, expires_at)
VALUES (%(owner)s, %(key)s, %(fingerprint)s, %(expires_at)s)
ON CONFLICT (owner, key) DO UPDATE
   SET fingerprint = excluded.fingerprint, expires_at = excluded.expires_at, response_status = NULL,
       response_body = NULL, response_content_type = NULL, created_at = now()
 WHERE idempotency_keys.expires_at <= %(now)s
RETURNING id"""

ANSWER = """
UPDATE idempotency_keys SET response_status = %(status)s, response_body = %(body)s,
       response_content_type = %(content_type)s
 WHERE id = %(id)s"""


async def insert_or_take_over_expired(
    session: AsyncSession, *, owner: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
) -> int | None:
    """Insert the key, or take over its row if it expired at ``now`` (its answer
    forgotten); the row's id, or None when a live row holds the key."""
    cursor = await db.execute_plain(
        session, CLAIM, {"owner": owner, "key": key, "fingerprint": fingerprint, "expires_at": expires_at, "now": now}
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def get(session: AsyncSession, *, owner: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        sa.select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    )


async def set_response(session: AsyncSession, *, row_id: int, status: int, body: bytes, content_type: str) -> None:
    await db.execute_plain(
        session, ANSWER, {"status": status, "body": body, "content_type": content_type, "id": row_id}
    )


async def delete(session: AsyncSession, *, row_id: int) -> None:
    await session.execute(sa.delete(_KEYS).where(_KEYS.c.id == row_id))


async def insert_answered_unless_taken(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    expires_at: datetime,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    """Insert the key with its answer; nothing if a row already holds the key."""
    await session.execute(
        insert(_KEYS)
        .values(
            owner=owner,
            key=key,
            fingerprint=fingerprint,
            expires_at=expires_at,
            response_status=status,
            response_body=body,
            response_content_type=content_type,
        )
        .on_conflict_do_nothing(index_elements=["owner", "key"])
    )


async def delete_expired(session: AsyncSession, *, now: datetime, batch_size: int) -> int:
    """Delete at most ``batch_size`` keys expired at ``now``, skipping rows another
    transaction holds; how many went."""
    doomed = (
        sa.select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id.in_(doomed)))
    return int(result.rowcount)  # type: ignore[attr-defined]
