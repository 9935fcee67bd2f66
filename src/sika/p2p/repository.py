"""The P2P rules' queries. Every movement of one sender in one currency is
admitted under one lock (``lock_sender``), so the totals a limit reads cannot
change until the transaction that checked them ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.p2p.models import AllowlistEntry, Certification, Movement, Usage


async def add(session: AsyncSession, *rows: AllowlistEntry | Certification | Movement) -> None:
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


async def lock_sender(session: AsyncSession, *, party_id: str, currency: str) -> None:
    """Until the transaction ends, no other movement of this sender in this currency is admitted."""
    key = sa.func.hashtextextended(sa.literal(f"p2p:{party_id}:{currency}"), 0)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


async def sent_since(session: AsyncSession, *, party_id: str, currency: str, first_day: date) -> int:
    total = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Usage.total_minor), 0)).where(
            Usage.party_id == party_id, Usage.currency == currency, Usage.day >= first_day
        )
    )
    return int(total or 0)


async def add_usage(
    session: AsyncSession, *, party_id: str, platform_id: str, currency: str, day: date, amount_minor: int
) -> None:
    statement = insert(Usage).values(
        party_id=party_id, platform_id=platform_id, currency=currency, day=day, total_minor=amount_minor, movements=1
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Usage.party_id, Usage.currency, Usage.day],
            set_={"total_minor": Usage.total_minor + amount_minor, "movements": Usage.movements + 1},
        )
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
