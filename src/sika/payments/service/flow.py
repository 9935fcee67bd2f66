"""What the collection and payout flows share: where news comes from and what
applying it did, the errors either flow raises, the provider's clearing
account, reading and locking a row as its caller may reach it, and the
event and audit row of each state change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.audit import service as audit_service
from sika.core import errors
from sika.core.context import Actor
from sika.events import service as events_service
from sika.ledger import service as ledger_service
from sika.parties import models as parties_models
from sika.parties import service as parties_service
from sika.payments import repository
from sika.payments.models import Collection, Payout
from sika.payments.states import CollectionStatus, PayoutStatus, StateMachine, Verdict
from sika.providers import base as provider_base
from sika.providers import errors as provider_errors
from sika.wallets import models as wallets_models
from sika.wallets import service as wallets_service

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
"""Phased flows read the time at each phase: a provider call may take seconds."""

Status = TypeVar("Status", CollectionStatus, PayoutStatus)

CLEARING_ACCOUNT_KIND = "provider.clearing"
MAX_TEXT = 500


class CollectionNotFound(errors.NotFound):
    """No such collection."""

    code = "collection_not_found"


class PayoutNotFound(errors.NotFound):
    """No such payout."""

    code = "payout_not_found"


class WalletNotOfParty(errors.ValidationFailed):
    """The wallet does not belong to this party."""

    code = "wallet_not_of_party"


class WalletCurrencyMismatch(errors.ValidationFailed):
    """The wallet holds another currency."""

    code = "wallet_currency_mismatch"


class IdempotencyKeyAlreadyUsed(errors.Conflict):
    """This Idempotency-Key already created a collection or payout (its stored answer has expired)."""

    code = "idempotency_key_already_used"


_NOT_FOUND: dict[type[Collection] | type[Payout], type[errors.NotFound]] = {
    Collection: CollectionNotFound,
    Payout: PayoutNotFound,
}


class Source(StrEnum):
    """Where news about a collection or payout came from."""

    api = "api"
    """The provider's answer to our own call."""
    webhook = "webhook"
    reconciliation = "reconciliation"


class Applied(StrEnum):
    """What an update did."""

    changed = "changed"
    unchanged = "unchanged"
    """Nothing new, or stale (it would have moved the state backwards)."""
    disagreement = "disagreement"
    """It contradicts a final state: alerted, nothing changed."""
    mismatch = "mismatch"
    """A success with another amount or currency: alerted, nothing credited."""


@dataclass(frozen=True)
class MobileMoney:
    """A mobile-money account: what a collection draws on, what a payout credits."""

    operator: provider_base.MobileOperator
    phone: str
    """E.164."""
    country: str | None = None
    """Where the account lives; the party's country when None."""


def clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def provider_name(value: str | None) -> provider_base.ProviderName | None:
    try:
        return provider_base.ProviderName(value) if value else None
    except ValueError:
        return None


def failure_code(exc: provider_errors.ProviderError) -> str:
    return exc.decline_code if isinstance(exc, provider_errors.ProviderDeclined) else exc.code


def clearing_account_id(provider: provider_base.ProviderName | str, currency: str) -> str:
    """The ledger account of what ``provider`` owes us (or we owe it) in ``currency``."""
    return f"clearing.{provider_base.ProviderName(provider).value}.{currency}"


async def clearing_account(
    session: AsyncSession, *, provider: provider_base.ProviderName | str, currency: str, now: datetime, actor: Actor
) -> str:
    account = await ledger_service.ensure_account(
        session,
        account_id=clearing_account_id(provider, currency),
        currency=currency,
        kind=CLEARING_ACCOUNT_KIND,
        managed=True,
        platform_id=None,
        now=now,
        actor=actor,
    )
    return account.id


async def party_and_wallet(
    session: AsyncSession, *, party_id: str | None, wallet_id: str, currency: str, actor: Actor
) -> tuple[parties_models.Party, wallets_models.Wallet]:
    """The party money moves for, and its wallet in ``currency``, as ``actor`` may reach them;
    without ``party_id``, the wallet's own party."""
    if party_id is None:
        wallet = await wallets_service.owned_wallet(session, wallet_id=wallet_id, actor=actor)
        party = await parties_service.get_party(session, party_id=wallet.party_id, actor=actor)
    else:
        party = await parties_service.get_party(session, party_id=party_id, actor=actor)
        wallet = await wallets_service.owned_wallet(session, wallet_id=wallet_id, actor=actor)
    if wallet.party_id != party.id:
        raise WalletNotOfParty(
            f"wallet_id {wallet.id} is not a wallet of party_id {party.id}; send the wallet's own party,"
            " or leave party_id out.",
            errors=[
                {"field": "body.party_id", "message": "Not the party of wallet_id.", "type": WalletNotOfParty.code},
                {"field": "body.wallet_id", "message": "Not a wallet of party_id.", "type": WalletNotOfParty.code},
            ],
        )
    if wallet.currency != currency:
        raise WalletCurrencyMismatch(f"The wallet holds {wallet.currency}, not {currency}.")
    return party, wallet


async def insert(session: AsyncSession, row: repository.Row) -> repository.Row:
    """Record a new collection or payout, refusing a key that already made one; returns it as stored."""
    if not await repository.insert_if_key_unused(session, row):
        raise IdempotencyKeyAlreadyUsed()
    stored = await repository.get(session, type(row), row.id)
    assert stored is not None
    return stored


async def owned(session: AsyncSession, model: type[repository.Row], row_id: str, *, actor: Actor) -> repository.Row:
    row = await repository.get(session, model, row_id)
    if row is None:
        raise _NOT_FOUND[model]()
    parties_service.check_owner(actor, row.party_id)
    return row


async def locked(session: AsyncSession, model: type[repository.Row], row_id: str) -> repository.Row:
    row = await repository.get_for_update(session, model, row_id)
    if row is None:
        raise _NOT_FOUND[model]()
    return row


def learn_reference(row: Collection | Payout, provider_reference: str | None) -> bool:
    """Keep the provider's id for the operation the first time it is heard; True when learned."""
    if row.provider_reference is None and provider_reference:
        row.provider_reference = provider_reference[:200]
        return True
    return False


async def judged(
    session: AsyncSession,
    row: Collection | Payout,
    *,
    machine: StateMachine[Status],
    current: Status,
    target: Status | None,
    learned: bool,
    source: Source,
    now: datetime,
    contradicted: Callable[[], Awaitable[None]],
) -> Applied | None:
    """The rule both flows share once news is mapped to a ``target`` state:
    None when it moves the row forward (the flow then applies it), else what
    it did. News contradicting a final state is alerted (``contradicted``) and
    changes nothing; stale news changes nothing. Either may still have taught
    a provider or its reference (``learned``)."""
    verdict = machine.judge(current, target)
    if verdict is Verdict.advance:
        return None
    if verdict is Verdict.contradiction:
        await contradicted()
        return Applied.disagreement
    if verdict is Verdict.stale:
        entity_type = type(row).__name__.lower()
        log.info(
            f"{entity_type}.update_stale",
            **{f"{entity_type}_id": row.id},
            status=current.value,
            reported=target.value if target is not None else None,
            source=source.value,
        )
    await touched(session, row, learned, now=now)
    return Applied.unchanged


async def touched(session: AsyncSession, row: Collection | Payout, learned: bool, *, now: datetime) -> None:
    """News that moved no state may still have taught a provider or its reference."""
    if learned:
        row.updated_at = now
        await repository.flush(session)


def move(row: Collection | Payout, target: Status, *, machine: StateMachine[Status], now: datetime) -> None:
    row.status = target.value
    row.updated_at = now
    if target in machine.final:
        row.completed_at = now


async def alert_once(
    session: AsyncSession,
    *,
    kind: str,
    severity: str,
    message: str,
    entity_type: str,
    entity_id: str,
    platform_id: str,
    data: dict[str, Any],
) -> None:
    """Raise an alert unless one of this kind about this collection or payout awaits an
    operator: the same news comes back (reconciliation asks each run, a provider
    resends), and it is one problem to look at, not one per time it is heard."""
    if await alerts_service.has_open(session, kind=kind, entity_id=entity_id):
        log.info("payments.alert_repeated", kind=kind, entity_id=entity_id)
        return
    await alerts_service.raise_alert(
        session,
        kind=kind,
        severity=severity,
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data,
        platform_id=platform_id,
    )


async def announce(
    session: AsyncSession,
    row: Collection | Payout,
    entity_type: str,
    *,
    shown: dict[str, Any],
    now: datetime,
    actor: Actor,
    data: dict[str, Any],
) -> None:
    """The domain event and the audit row of a state change, in its transaction."""
    await events_service.emit(
        session,
        type=f"{entity_type}.{row.status}",
        entity_type=entity_type,
        entity_id=row.id,
        party_id=row.party_id,
        platform_id=row.platform_id,
        data=shown,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=row.platform_id,
        action=f"{entity_type}.{row.status}",
        entity_type=entity_type,
        entity_id=row.id,
        data={"status": row.status, "provider": row.provider, **data},
    )


async def from_clearing(
    session: AsyncSession,
    row: Collection | Payout,
    *,
    provider: str,
    code: str,
    transfer_id: str,
    metadata: dict[str, Any],
    now: datetime,
    actor: Actor,
) -> str:
    """Credit the row's wallet with its amount from ``provider``'s clearing account
    (a collection's credit, a captured payout given back), through the wallets
    service like any money into a wallet; returns the transfer's id."""
    clearing = await clearing_account(session, provider=provider, currency=row.currency, now=now, actor=actor)
    transfer = await wallets_service.credit(
        session,
        wallet_id=row.wallet_id,
        from_account_id=clearing,
        amount_minor=row.amount_minor,
        code=code,
        transfer_id=transfer_id,
        metadata=metadata,
        actor=actor,
        now=now,
    )
    assert not transfer.replayed, "the row lock and the state make this transfer happen once"
    return transfer.id
