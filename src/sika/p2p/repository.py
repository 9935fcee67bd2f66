"""The P2P rules' queries. Every movement of one sender in one currency is
admitted under one lock (``lock_sender``), so the totals a limit reads cannot
change until the transaction that checked them ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import db, paging
from sika.p2p.models import AllowlistEntry, Certification, Movement

# Every P2P movement (a capture between wallets, a transfer) sends these: plain statements on the
# driver connection (``db.execute_plain``), built once, not statements rebuilt and compiled per call.
# Party ids are unique across platforms, so reading by party needs no platform filter.
_LOCK_AND_STANDING = """
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0)),
       (SELECT level FROM p2p_certifications WHERE party_id = %(sender)s ORDER BY seq DESC LIMIT 1),
       (SELECT level FROM p2p_certifications WHERE party_id = %(recipient)s ORDER BY seq DESC LIMIT 1),
       EXISTS (SELECT FROM p2p_allowlist WHERE party_id = %(sender)s AND recipient_party_id = %(recipient)s)"""
_SENT_IN_WINDOWS = """
SELECT coalesce(sum(total_minor) FILTER (WHERE day >= %(today)s), 0), coalesce(sum(total_minor), 0)
  FROM p2p_usage
 WHERE party_id = %(party)s AND currency = %(currency)s AND day >= %(first_day)s"""
_COUNT_MOVEMENT = """
WITH usage AS (
    INSERT INTO p2p_usage (party_id, platform_id, currency, day, total_minor, movements)
    VALUES (%(sender_party_id)s, %(platform_id)s, %(currency)s, %(day)s, %(amount_minor)s, 1)
    ON CONFLICT (party_id, currency, day) DO UPDATE
       SET total_minor = p2p_usage.total_minor + excluded.total_minor, movements = p2p_usage.movements + 1
)
INSERT INTO p2p_movements
       (id, kind, platform_id, sender_party_id, recipient_party_id, currency, amount_minor, created_at)
VALUES (%(id)s, %(kind)s, %(platform_id)s, %(sender_party_id)s, %(recipient_party_id)s, %(currency)s, %(amount_minor)s,
        %(created_at)s)"""


@dataclass(frozen=True)
class Standing:
    """What the policy and the limits read of a sender and its recipient."""

    sender_level: int
    """The sender's certification level (0: never certified)."""
    recipient_level: int
    allowlisted: bool
    """The recipient is on the sender's allowlist."""


async def add(session: AsyncSession, *rows: AllowlistEntry | Certification) -> None:
    session.add_all(rows)
    await session.flush()


async def allowlist_entry(session: AsyncSession, *, party_id: str, recipient_party_id: str) -> AllowlistEntry | None:
    return await session.scalar(
        sa.select(AllowlistEntry).where(
            AllowlistEntry.party_id == party_id, AllowlistEntry.recipient_party_id == recipient_party_id
        )
    )


async def remove(session: AsyncSession, entry: AllowlistEntry) -> None:
    await session.delete(entry)
    await session.flush()


async def list_allowlist(session: AsyncSession, *, party_id: str, page: paging.Page) -> Sequence[AllowlistEntry]:
    query = sa.select(AllowlistEntry).where(AllowlistEntry.party_id == party_id)
    return (await session.scalars(paging.paged(query, AllowlistEntry.seq, page))).all()


async def newest_certification(session: AsyncSession, party_id: str) -> Certification | None:
    return await session.scalar(
        sa.select(Certification).where(Certification.party_id == party_id).order_by(Certification.seq.desc()).limit(1)
    )


async def list_certifications(session: AsyncSession, *, party_id: str, page: paging.Page) -> Sequence[Certification]:
    query = sa.select(Certification).where(Certification.party_id == party_id)
    return (await session.scalars(paging.paged(query, Certification.seq, page))).all()


async def last_certified_at(session: AsyncSession, party_ids: Sequence[str]) -> datetime | None:
    """When the newest certification decision about any of these parties was taken."""
    found: datetime | None = await session.scalar(
        sa.select(sa.func.max(Certification.created_at)).where(Certification.party_id.in_(party_ids))
    )
    return found


async def lock_sender(session: AsyncSession, *, party_id: str, recipient_party_id: str, currency: str) -> Standing:
    """Until the transaction ends, no other movement of this sender in this currency is
    admitted; in the same statement, what the rules read of the two parties. Neither
    reading is what the lock guards (the usage is: ``sent_in_windows``, after it)."""
    parameters = {"key": f"p2p:{party_id}:{currency}", "sender": party_id, "recipient": recipient_party_id}
    row = await (await db.execute_plain(session, _LOCK_AND_STANDING, parameters)).fetchone()
    assert row is not None  # one row: the statement reads no table at its top
    return Standing(sender_level=row[1] or 0, recipient_level=row[2] or 0, allowlisted=row[3])


async def sent_in_windows(
    session: AsyncSession, *, party_id: str, currency: str, today: date, first_day: date
) -> tuple[int, int]:
    """What the sender has sent in ``currency`` since ``today`` began, and since ``first_day`` began."""
    parameters = {"party": party_id, "currency": currency, "today": today, "first_day": first_day}
    row = await (await db.execute_plain(session, _SENT_IN_WINDOWS, parameters)).fetchone()
    assert row is not None  # an aggregate without GROUP BY: one row
    return int(row[0]), int(row[1])


async def count_movement(session: AsyncSession, movement: Movement, *, day: date) -> None:
    """The movement's row, and its amount added to the sender's usage of ``day``, in one
    statement; the row is not kept in the session (nothing reads it back from there)."""
    await db.execute_plain(
        session,
        _COUNT_MOVEMENT,
        {
            "id": movement.id,
            "kind": movement.kind,
            "platform_id": movement.platform_id,
            "sender_party_id": movement.sender_party_id,
            "recipient_party_id": movement.recipient_party_id,
            "currency": movement.currency,
            "amount_minor": movement.amount_minor,
            "created_at": movement.created_at,
            "day": day,
        },
    )


async def has_sent_to(session: AsyncSession, *, sender_party_id: str, recipient_party_id: str) -> bool:
    found = await session.scalar(
        sa.select(Movement.id)
        .where(Movement.sender_party_id == sender_party_id, Movement.recipient_party_id == recipient_party_id)
        .limit(1)
    )
    return found is not None


async def sent_since_time(session: AsyncSession, *, sender_party_id: str, since: datetime) -> Sequence[Movement]:
    """The sender's movements at or after ``since``, oldest first."""
    query = (
        sa.select(Movement)
        .where(Movement.sender_party_id == sender_party_id, Movement.created_at >= since)
        .order_by(Movement.seq)
    )
    return (await session.scalars(query)).all()


async def history(session: AsyncSession, *, sender_party_id: str, currency: str) -> tuple[int, int]:
    """How many movements the sender has made in ``currency``, and their total."""
    row = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Movement.amount_minor), 0)).where(
                Movement.sender_party_id == sender_party_id, Movement.currency == currency
            )
        )
    ).one()
    return int(row[0]), int(row[1])
