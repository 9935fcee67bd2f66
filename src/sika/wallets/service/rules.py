"""The one door between wallets and the platform's P2P rules (``sika.p2p``):
every function of wallets that moves money from a party's wallet to another
party's calls ``admit_to_party`` in its transaction, after the sender is
share-locked and before the ledger's accounts are locked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.p2p import service as p2p_service
from sika.wallets.models import Wallet


async def admit_to_party(
    session: AsyncSession,
    source: Wallet,
    destination: Wallet,
    *,
    movement_id: str,
    kind: str,
    amount: int,
    now: datetime,
) -> None:
    """The platform's P2P rules on money leaving ``source`` for ``destination``."""
    await p2p_service.admit(
        session,
        outgoing=p2p_service.Outgoing(
            id=movement_id,
            kind=kind,
            platform_id=source.platform_id,
            sender_party_id=source.party_id,
            recipient_party_id=destination.party_id,
            currency=source.currency,
            amount_minor=amount,
        ),
        now=now,
    )
