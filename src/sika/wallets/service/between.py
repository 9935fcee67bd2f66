"""Paying another party's wallet from a party's wallet, in one journal entry:
the recipient's part and the platform's fee, under the platform's P2P rules
(``sika.p2p``), which every movement to another party's wallet passes
(this, and ``holds.capture_hold`` to a destination wallet)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.wallets import repository
from sika.wallets.models import Wallet
from sika.wallets.service import wallets
from sika.wallets.service.holds import _expire_lapsed
from sika.wallets.service.moves import fee_leg
from sika.wallets.service.rules import admit_to_party


class SameParty(errors.ValidationFailed):
    """A party does not pay itself: name another party's wallet."""

    code = "transfer_same_party"


async def recipient_wallet(session: AsyncSession, *, source: Wallet, wallet_id: str) -> Wallet:
    """Another party's wallet in the source's currency, on its platform."""
    destination = await repository.get(session, wallet_id)
    if destination is None:
        raise wallets.WalletNotFound(f"No destination wallet {wallet_id}.")
    if destination.party_id == source.party_id:
        raise SameParty()
    if destination.platform_id != source.platform_id:
        raise wallets.WalletNotFound(f"No destination wallet {wallet_id}.")
    if destination.currency != source.currency:
        raise ledger_service.CurrencyMismatch(
            f"Wallet {source.id} is in {source.currency}; wallet {destination.id} is in {destination.currency}."
        )
    return destination


async def pay_party(
    session: AsyncSession,
    *,
    source: Wallet,
    destination: Wallet,
    amount_minor: int,
    fee_minor: int,
    transfer_id: str,
    code: str,
    metadata: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> ledger_service.JournalEntry:
    """Move ``amount_minor`` from ``source`` (which ``actor`` may debit) to
    ``destination``, less ``fee_minor`` to the platform, as one journal entry
    whose first leg has ``transfer_id``. InsufficientFunds, PartySuspended and
    the P2P rules' refusals write nothing."""
    await parties_service.lock_debitable(session, party_id=source.party_id)
    await _expire_lapsed(session, wallet=source, actor=actor, now=now)
    await admit_to_party(
        session, source, destination, movement_id=transfer_id, kind="transfer", amount=amount_minor, now=now
    )
    legs = [
        ledger_service.Leg(
            debit_account_id=source.account_id,
            credit_account_id=destination.account_id,
            amount_minor=amount_minor - fee_minor,
            currency=source.currency,
            code=code,
            transfer_id=transfer_id,
            metadata={"wallet_id": source.id, "destination_wallet_id": destination.id, **metadata},
        )
    ]
    if fee_minor:
        legs.append(
            await fee_leg(
                session,
                platform_id=source.platform_id,
                currency=source.currency,
                from_account_id=source.account_id,
                amount_minor=fee_minor,
                transfer_id=f"{transfer_id}.fee",
                metadata={"wallet_id": source.id, "transfer_id": transfer_id},
                actor=actor,
                now=now,
            )
        )
    await ledger_service.lock_accounts(
        session, account_ids=[source.account_id, *(leg.credit_account_id for leg in legs)]
    )
    try:
        return await ledger_service.create_journal_entry(session, legs=legs, now=now, actor=actor)
    except ledger_service.InsufficientFunds:
        raise await wallets.insufficient_funds(session, source, amount_minor=amount_minor, now=now) from None
