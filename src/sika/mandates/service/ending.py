"""A mandate's end by revocation (the sender or the platform, at once) or expiry
(the minute job, at ``expires_at``): what is left goes back to the sender's
wallet, once.

The return's ledger transfer id is derived from the mandate
(``<id>.return``), and the mandate's row is locked while it ends, so a
revocation, a purchase and any number of workers meeting on one mandate take
turns: the first to get the row ends it (or pays from it), the others find it
ended (or already paid). The job's batch is the active mandates past their
expiry, locked ``FOR UPDATE SKIP LOCKED``: workers take disjoint batches without
waiting for each other, and a mandate a request holds is left to the next run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.mandates import repository
from sika.mandates.models import Mandate
from sika.mandates.service import announce
from sika.mandates.service.access import MandateView, Role, check_role
from sika.mandates.service.errors import MandateNotActive, MandateNotFound
from sika.mandates.service.mandates import views
from sika.mandates.states import MandateStatus
from sika.wallets import service as wallets_service

RETURN_CODE = "mandate.return"
DUE_BATCH_SIZE = 50
"""Mandates expired per transaction."""


@dataclass(frozen=True)
class Expired:
    mandates: int
    """Mandates locked in this batch: fewer than the batch size means none are left."""
    returned_minor: int


async def revoke(session: AsyncSession, *, mandate_id: str, actor: Actor, now: datetime) -> MandateView:
    """The sender (or the platform) ends an active mandate now; what is left goes back."""
    mandate = await repository.get_for_update(session, mandate_id)
    if mandate is None:
        raise MandateNotFound()
    check_role(actor, mandate, Role.sender, "revoke it")
    # Past its expiry but not yet reached by the job, it is still the sender's to take back now.
    if mandate.status != MandateStatus.active.value:
        raise MandateNotActive(
            f"Mandate {mandate.id} is {mandate.status}: cannot revoke it.", mandate_status=mandate.status
        )
    await _end(session, mandate, MandateStatus.revoked, actor=actor, now=now)
    return (await views(session, [mandate], now=now))[0]


async def expire_due(session: AsyncSession, *, now: datetime, actor: Actor, limit: int = DUE_BATCH_SIZE) -> Expired:
    """One batch: up to ``limit`` active mandates past their expiry, each ended once."""
    mandates = await repository.lock_due(session, now=now, limit=limit)
    if not mandates:
        return Expired(mandates=0, returned_minor=0)
    # Every account the batch credits, locked first in the ledger's order, so two
    # batches returning money to one sender take turns instead of deadlocking.
    wallets = await wallets_service.wallet_account_ids(session, [m.sender_wallet_id for m in mandates])
    await ledger_service.lock_accounts(session, account_ids=[m.account_id for m in mandates] + wallets)
    returned = 0
    for mandate in mandates:
        returned += await _end(session, mandate, MandateStatus.expired, actor=actor, now=now)
    return Expired(mandates=len(mandates), returned_minor=returned)


async def _end(session: AsyncSession, mandate: Mandate, status: MandateStatus, *, actor: Actor, now: datetime) -> int:
    """End the (locked, active) mandate as ``status``, returning what it holds to the sender."""
    left = announce.remaining(mandate)
    data: dict[str, object] = {"returned_minor": left}
    if left:
        transfer = await wallets_service.credit(
            session,
            wallet_id=mandate.sender_wallet_id,
            from_account_id=mandate.account_id,
            amount_minor=left,
            code=RETURN_CODE,
            transfer_id=f"{mandate.id}.return",
            metadata={"mandate_id": mandate.id},
            actor=actor,
            now=now,
        )
        data["transfer_id"] = transfer.id
    mandate.returned_minor += left
    mandate.status = status.value
    mandate.updated_at = mandate.ended_at = now
    await session.flush()
    await announce.event(session, mandate, f"mandate.{status.value}", now=now, data=data)
    await announce.audit(session, mandate, f"mandate.{status.value}", actor=actor, data=data)
    return left
