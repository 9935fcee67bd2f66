"""Wallets: opening one, reading its money, and crediting it.

A wallet's money is its ledger account: ``balance`` is the account's
posted credits less posted debits, ``held`` its pending debits (the open
holds, less those past their expiry), ``available`` the difference.
Nothing here stores an amount. Money comes into a wallet only through
``credit`` (a top-up, a collection, a payout given back) or a hold's capture
(``sika.wallets.service.holds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, ids, money, paging
from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.wallets import repository
from sika.wallets.models import HOLDS_ACCOUNT_KIND, WALLET_ACCOUNT_KIND, Wallet

TOP_UP_CODE = "wallet.top_up"
FUNDING_ACCOUNT_KIND = "funding"


class WalletNotFound(errors.NotFound):
    """No such wallet."""

    code = "wallet_not_found"


class WalletExists(errors.Conflict):
    """This party already has a wallet in this currency."""

    code = "wallet_exists"


@dataclass(frozen=True)
class WalletView:
    wallet: Wallet
    balance_minor: int
    held_minor: int
    available_minor: int


@dataclass(frozen=True)
class TopUp:
    transfer: ledger_service.TransferRecord
    reference: str | None
    reason: str
    wallet: WalletView


def funding_account_id(currency: str) -> str:
    """The system account top-ups are drawn from, one per currency."""
    return f"acct_funding_{currency.lower()}"


async def wallet_view(session: AsyncSession, wallet: Wallet, *, now: datetime) -> WalletView:
    """The wallet's money at ``now``: holds past their expiry no longer count
    as held, though the ledger keeps them pending until they are expired."""
    account, lapsed = await repository.account_and_lapsed(session, account_id=wallet.account_id, now=now)
    balance = ledger_service.balance_of(account)
    held = balance.debits_pending - lapsed
    return WalletView(
        wallet=wallet,
        balance_minor=balance.posted_minor,
        held_minor=held,
        available_minor=balance.posted_minor - held,
    )


async def owned_wallet(session: AsyncSession, *, wallet_id: str, actor: Actor) -> Wallet:
    """The wallet, which ``actor`` may reach (WalletNotFound, NotOwnedByParty)."""
    wallet = await repository.get(session, wallet_id)
    if wallet is None:
        raise WalletNotFound()
    parties_service.check_owner(actor, wallet.party_id)
    return wallet


async def get_wallet(session: AsyncSession, *, wallet_id: str, actor: Actor, now: datetime) -> WalletView:
    return await wallet_view(session, await owned_wallet(session, wallet_id=wallet_id, actor=actor), now=now)


async def list_party_wallets(
    session: AsyncSession, *, party_id: str, page: paging.Page, actor: Actor, now: datetime
) -> list[WalletView]:
    """Newest first."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    return [await wallet_view(session, w, now=now) for w in await repository.list_for_party(session, party.id, page)]


async def party_wallet_id(session: AsyncSession, *, party_id: str, currency: str, actor: Actor) -> str | None:
    """The id of the party's wallet in ``currency``, if it has one (the party as ``actor`` may see it)."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    wallet = await repository.get_for_party(session, party_id=party.id, currency=currency)
    return wallet.id if wallet is not None else None


async def insufficient_funds(
    session: AsyncSession, wallet: Wallet, *, amount_minor: int, now: datetime
) -> ledger_service.InsufficientFunds:
    """The ledger's refusal in the caller's words: it names the wallet's internal account
    (and the id the refused transfer would have had); the caller sent a wallet id."""
    view = await wallet_view(session, wallet, now=now)
    return ledger_service.InsufficientFunds(
        f"Wallet {wallet.id} has {view.available_minor} available; {amount_minor} requested"
        f" (minor units of {wallet.currency})."
    )


async def open_wallet(
    session: AsyncSession, *, party_id: str, currency: str, actor: Actor, now: datetime
) -> WalletView:
    """Open the party's wallet in ``currency``: two ledger accounts and the row naming them."""
    money.check_currency(currency)
    parties_service.check_owner(actor, party_id)
    # The party's row lock decides between two requests opening the same wallet.
    party = await parties_service.lock_party(session, party_id=party_id)
    if await repository.get_for_party(session, party_id=party.id, currency=currency) is not None:
        raise WalletExists(f"Party {party.id} already has a {currency} wallet.")
    accounts = [
        await ledger_service.create_account(
            session,
            currency=currency,
            kind=kind,
            owner_type="party",
            owner_id=party.id,
            debits_must_not_exceed_credits=True,
            managed=True,
            platform_id=party.platform_id,
            now=now,
            actor=actor,
        )
        for kind in (WALLET_ACCOUNT_KIND, HOLDS_ACCOUNT_KIND)
    ]
    wallet = Wallet(
        id=ids.new_id("wal"),
        party_id=party.id,
        platform_id=party.platform_id,
        currency=currency,
        account_id=accounts[0].id,
        holds_account_id=accounts[1].id,
        created_at=now,
    )
    await repository.add(session, wallet)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=wallet.platform_id,
        action="wallet.opened",
        entity_type="wallet",
        entity_id=wallet.id,
        data={"party_id": party.id, "currency": currency, "account_id": wallet.account_id},
    )
    return await wallet_view(session, wallet, now=now)


async def top_up(
    session: AsyncSession,
    *,
    wallet_id: str,
    amount_minor: int,
    reference: str | None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> TopUp:
    """Credit the wallet from the currency's funding account (operations and tests)."""
    wallet = await owned_wallet(session, wallet_id=wallet_id, actor=actor)
    funding = await ledger_service.ensure_account(
        session,
        account_id=funding_account_id(wallet.currency),
        currency=wallet.currency,
        kind=FUNDING_ACCOUNT_KIND,
        managed=True,
        platform_id=None,
        now=now,
        actor=actor,
    )
    transfer = await _credit(
        session,
        wallet,
        from_account_id=funding.id,
        amount_minor=amount_minor,
        code=TOP_UP_CODE,
        transfer_id=None,
        metadata=movement_metadata(wallet_id=wallet.id, reference=reference, reason=reason),
        actor=actor,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=wallet.platform_id,
        action="wallet.topped_up",
        entity_type="wallet",
        entity_id=wallet.id,
        data={"transfer_id": transfer.id, "amount_minor": amount_minor, "reference": reference},
    )
    return TopUp(
        transfer=transfer, reference=reference, reason=reason, wallet=await wallet_view(session, wallet, now=now)
    )


async def credit(
    session: AsyncSession,
    *,
    wallet_id: str,
    from_account_id: str,
    amount_minor: int,
    code: str,
    transfer_id: str | None,
    metadata: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> ledger_service.TransferRecord:
    """Credit the wallet with ``amount_minor`` from a system ledger account (a
    provider's clearing account for a collection or a payout given back):
    money into a wallet comes through here or a hold's capture, never straight
    onto its account. Not refused for a suspended party: a credit takes
    nothing from it. The caller names the transfer's ``transfer_id`` and
    ``metadata`` (a derived id makes its retry a replay)."""
    wallet = await owned_wallet(session, wallet_id=wallet_id, actor=actor)
    return await _credit(
        session,
        wallet,
        from_account_id=from_account_id,
        amount_minor=amount_minor,
        code=code,
        transfer_id=transfer_id,
        metadata=metadata,
        actor=actor,
        now=now,
    )


async def _credit(
    session: AsyncSession,
    wallet: Wallet,
    *,
    from_account_id: str,
    amount_minor: int,
    code: str,
    transfer_id: str | None,
    metadata: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> ledger_service.TransferRecord:
    return await ledger_service.create_transfer(
        session,
        debit_account_id=from_account_id,
        credit_account_id=wallet.account_id,
        amount_minor=amount_minor,
        currency=wallet.currency,
        code=code,
        transfer_id=transfer_id,
        metadata=metadata,
        now=now,
        actor=actor,
    )


def movement_metadata(*, wallet_id: str, reference: str | None, reason: str) -> dict[str, Any]:
    """The ledger metadata of a top-up or a hold: the wallet, why, and the caller's reference if any."""
    described: dict[str, Any] = {"wallet_id": wallet_id, "reason": reason}
    if reference is not None:
        described["reference"] = reference
    return described
