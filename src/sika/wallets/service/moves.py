"""How another domain moves a wallet's money into and out of an account of its
own (an escrow's), outside holds: a debit of the wallet straight into the
domain's managed account, and the legs of the domain's own journal entries
that credit a wallet or pay the platform's fee.

A hold is for money reserved for later; a domain that takes the money at once
(an escrow's deposit) debits it here, under the same rules as a hold: the
party must be debitable (not suspended, share-locked until commit), its lapsed
holds stand in no one's way, and a party token reaches only its own wallet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.wallets import repository
from sika.wallets.service import wallets
from sika.wallets.service.fees import FEE_ACCOUNT_KIND, FEE_CODE, fee_account_id
from sika.wallets.service.holds import _expire_lapsed


async def debit_to_account(
    session: AsyncSession,
    *,
    wallet_id: str,
    account_id: str,
    amount_minor: int,
    code: str,
    transfer_id: str,
    metadata: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> ledger_service.TransferRecord:
    """Move ``amount_minor`` of the wallet's available money to ``account_id``;
    InsufficientFunds (naming the wallet) when it does not have it, PartySuspended
    when its party is. Nothing is written on a refusal."""
    wallet = await wallets.owned_wallet(session, wallet_id=wallet_id, actor=actor)
    await parties_service.lock_debitable(session, party_id=wallet.party_id)
    await _expire_lapsed(session, wallet=wallet, actor=actor, now=now)
    try:
        return await ledger_service.create_transfer(
            session,
            debit_account_id=wallet.account_id,
            credit_account_id=account_id,
            amount_minor=amount_minor,
            currency=wallet.currency,
            code=code,
            transfer_id=transfer_id,
            metadata={"wallet_id": wallet.id, **metadata},
            now=now,
            actor=actor,
        )
    except ledger_service.InsufficientFunds:
        raise await wallets.insufficient_funds(session, wallet, amount_minor=amount_minor, now=now) from None


async def credit_leg(
    session: AsyncSession,
    *,
    wallet_id: str,
    from_account_id: str,
    amount_minor: int,
    code: str,
    transfer_id: str,
    metadata: dict[str, Any],
) -> ledger_service.Leg:
    """The leg of a journal entry crediting the wallet from ``from_account_id``.
    A credit takes nothing from the party, so it is neither owner-checked nor
    refused for a suspended party (as ``wallets.credit``)."""
    wallet = await repository.get(session, wallet_id)
    if wallet is None:
        raise wallets.WalletNotFound()
    return ledger_service.Leg(
        debit_account_id=from_account_id,
        credit_account_id=wallet.account_id,
        amount_minor=amount_minor,
        currency=wallet.currency,
        code=code,
        transfer_id=transfer_id,
        metadata={"wallet_id": wallet.id, **metadata},
    )


async def fee_leg(
    session: AsyncSession,
    *,
    platform_id: str,
    currency: str,
    from_account_id: str,
    amount_minor: int,
    transfer_id: str,
    metadata: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> ledger_service.Leg:
    """The leg of a journal entry paying the platform's fee account (opened on first use)."""
    return ledger_service.Leg(
        debit_account_id=from_account_id,
        credit_account_id=await ensure_fee_account(
            session, platform_id=platform_id, currency=currency, actor=actor, now=now
        ),
        amount_minor=amount_minor,
        currency=currency,
        code=FEE_CODE,
        transfer_id=transfer_id,
        metadata=metadata,
    )


async def wallet_account_ids(session: AsyncSession, wallet_ids: list[str]) -> list[str]:
    """The ledger accounts of these wallets: what a domain locks up front, in the
    ledger's order (``ledger_service.lock_accounts``), before several entries that
    credit them in one transaction."""
    found = [await repository.get(session, wallet_id) for wallet_id in sorted(set(wallet_ids))]
    return [wallet.account_id for wallet in found if wallet is not None]


async def ensure_fee_account(
    session: AsyncSession, *, platform_id: str, currency: str, actor: Actor, now: datetime
) -> str:
    """The platform's fee account in ``currency``, opened on first use."""
    fees = await ledger_service.ensure_account(
        session,
        account_id=fee_account_id(platform_id, currency),
        currency=currency,
        kind=FEE_ACCOUNT_KIND,
        debits_must_not_exceed_credits=True,
        managed=True,
        platform_id=platform_id,
        now=now,
        actor=actor,
    )
    return fees.id
