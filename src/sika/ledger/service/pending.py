"""Resolving pending transfers: posting (in full or in part), voiding, and
expiring those past their timeout (the expiry job, or a domain clearing an
account's lapsed holds before it takes more of its money)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger.service import reach, writer
from sika.ledger.service.values import TransferRecord

EXPIRY_BATCH_SIZE = 200
"""Pending transfers expired per transaction by the expiry job."""


async def post_pending(
    session: AsyncSession,
    *,
    pending_id: str,
    amount_minor: int | None = None,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Post a pending transfer: in full (``amount_minor`` None) or in part,
    the remainder returning to the debit account. Resolves it for good."""
    return await _resolve(
        session,
        kind="post_pending",
        pending_id=pending_id,
        amount_minor=amount_minor,
        transfer_id=transfer_id,
        metadata=metadata,
        allow_managed=allow_managed,
        now=now,
        actor=actor,
    )


async def void_pending(
    session: AsyncSession,
    *,
    pending_id: str,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Void a pending transfer: the whole amount returns to the debit account."""
    return await _resolve(
        session,
        kind="void_pending",
        pending_id=pending_id,
        amount_minor=None,
        transfer_id=transfer_id,
        metadata=metadata,
        allow_managed=allow_managed,
        now=now,
        actor=actor,
    )


async def _resolve(
    session: AsyncSession,
    *,
    kind: str,
    pending_id: str,
    amount_minor: int | None,
    transfer_id: str | None,
    metadata: dict[str, Any] | None,
    allow_managed: bool,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    if not allow_managed:
        await reach.check_pending(session, actor=actor, pending_id=pending_id)
    request = writer.resolution_request(
        kind=kind,
        pending_id=pending_id,
        amount_minor=amount_minor,
        transfer_id=transfer_id,
        code=None,
        metadata=metadata,
        actor=actor,
        allow_managed=allow_managed,
    )
    (row,) = await writer.apply(session, [request], now=now, atomic=True)
    return writer.record_of(row)


async def expire_pending(
    session: AsyncSession, *, now: datetime, actor: Actor, batch_size: int = EXPIRY_BATCH_SIZE
) -> int:
    """Expire up to ``batch_size`` pending transfers whose timeout has passed;
    returns how many. Those resolved meanwhile by someone else are skipped."""
    # Read, not locked: the accounts are the first lock a ledger write takes.
    # A post or void of one of these holds the accounts and then deletes its
    # row here, so a lock on the row held while waiting for the accounts
    # would close a deadlock. Two runs racing for one transfer are decided by
    # the account locks and the unique resolution, as any two resolutions are.
    due = await session.scalars(
        sa.text(
            "SELECT transfer_id FROM ledger_pending_timeouts WHERE expires_at <= :now ORDER BY expires_at LIMIT :limit"
        ),
        {"now": now, "limit": batch_size},
    )
    return await expire_pending_transfers(session, pending_ids=list(due), now=now, actor=actor)


async def expire_pending_transfers(
    session: AsyncSession, *, pending_ids: Sequence[str], now: datetime, actor: Actor
) -> int:
    """Expire these pending transfers if their timeout has passed, in the
    caller's transaction (a domain clearing a wallet's lapsed holds before it
    takes more of its money); returns how many. Those not yet due, or resolved
    meanwhile, are skipped."""
    if not pending_ids:
        return 0
    requests = [
        writer.resolution_request(
            kind="expire_pending",
            pending_id=pending_id,
            amount_minor=None,
            transfer_id=None,
            code=None,
            metadata=None,
            actor=actor,
        )
        for pending_id in pending_ids
    ]
    rows = await writer.apply(session, requests, now=now, atomic=False)
    return sum(1 for row in rows if row.error_code is None)
