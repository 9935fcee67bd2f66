"""Accounts: opening (``create_account``, and ``ensure_account`` for the system
accounts there is one of per currency), reading, balances, locking and closing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import ids, money
from sika.core.context import Actor
from sika.ledger import repository
from sika.ledger.models import Account
from sika.ledger.service.errors import AccountHasPendingTransfers, AccountManaged, AccountNotFound, InvalidAccount
from sika.ledger.service.validation import check_transfer_id
from sika.ledger.service.values import Balance, balance_of

_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_.]{0,49}")


def _check_account(
    *, currency: str, kind: str, debits_must_not_exceed_credits: bool, credits_must_not_exceed_debits: bool
) -> None:
    money.check_currency(currency)
    if not _KIND_PATTERN.fullmatch(kind):
        raise InvalidAccount("An account kind is lowercase letters, digits, _ and ., at most 50.")
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise InvalidAccount(
            "An account has at most one of debits_must_not_exceed_credits and credits_must_not_exceed_debits."
        )


async def create_account(
    session: AsyncSession,
    *,
    currency: str,
    kind: str,
    owner_type: str | None = None,
    owner_id: str | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
    account_id: str | None = None,
    managed: bool = False,
    platform_id: str | None,
    now: datetime,
    actor: Actor,
) -> Account:
    """Open an account with zero totals, ``platform_id``'s (None: a system account,
    which only the installation's operators see).

    ``debits_must_not_exceed_credits`` is overdraft protection (a wallet);
    ``credits_must_not_exceed_debits`` its mirror; at most one of them.
    ``managed``: a domain service opens it and alone moves money on it."""
    _check_account(
        currency=currency,
        kind=kind,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
    )
    if (owner_type is None) != (owner_id is None):
        raise InvalidAccount("Give both owner_type and owner_id, or neither.")
    if owner_type is not None and not 1 <= len(owner_type) <= 50:
        raise InvalidAccount("owner_type is 1 to 50 characters.")
    if owner_id is not None and not 1 <= len(owner_id) <= 64:
        raise InvalidAccount("owner_id is 1 to 64 characters.")
    account = Account(
        id=account_id or ids.new_id("acct"),
        currency=currency,
        kind=kind,
        owner_type=owner_type,
        owner_id=owner_id,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
        is_managed=managed,
        platform_id=platform_id,
        debits_posted=0,
        credits_posted=0,
        debits_pending=0,
        credits_pending=0,
        version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        platform_id=platform_id,
        action="ledger.account_created",
        entity_type="ledger_account",
        entity_id=account.id,
        data={
            "currency": currency,
            "kind": kind,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "managed": managed,
        },
    )
    return account


async def ensure_account(
    session: AsyncSession,
    *,
    account_id: str,
    currency: str,
    kind: str,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
    managed: bool = False,
    platform_id: str | None,
    now: datetime,
    actor: Actor,
) -> Account:
    """The account with this fixed id, opened on first use: a system account
    (``platform_id`` None), or one a platform has one of per currency (its fees).

    For the accounts there is one of per currency (a funding source, a fee
    account) that concurrent requests may all reach for first: racing callers
    all get the one account. Raises ``InvalidAccount`` if an account with this
    id exists with other attributes."""
    _check_account(
        currency=currency,
        kind=kind,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
    )
    check_transfer_id(account_id)
    inserted = await repository.insert_account_if_absent(
        session,
        {
            "id": account_id,
            "currency": currency,
            "kind": kind,
            "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
            "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
            "is_managed": managed,
            "platform_id": platform_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    wanted = {
        "platform_id": platform_id,
        "currency": currency,
        "kind": kind,
        "owner_type": None,
        "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
        "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
        "is_managed": managed,
    }
    # A bound session may reach a system account here, on its platform's behalf.
    account = await repository.get_account(session, account_id, all_platforms=True)
    if account is None or any(getattr(account, name) != value for name, value in wanted.items()):
        raise InvalidAccount(f"Account {account_id} exists with other attributes.")
    if inserted:
        await audit_service.record(
            session,
            actor=actor,
            platform_id=platform_id,
            action="ledger.account_created",
            entity_type="ledger_account",
            entity_id=account.id,
            data={
                "currency": currency,
                "kind": kind,
                "owner_type": None,
                "owner_id": None,
                "managed": managed,
            },
        )
    return account


async def get_account(session: AsyncSession, *, account_id: str) -> Account:
    account = await repository.get_account(session, account_id)
    if account is None:
        raise AccountNotFound(f"No ledger account {account_id}.")
    return account


async def list_accounts(
    session: AsyncSession,
    *,
    owner_type: str | None = None,
    owner_id: str | None = None,
    currency: str | None = None,
    kind: str | None = None,
    after_seq: int | None = None,
    limit: int = 50,
    platform_id: str | None = None,
    newest_first: bool = False,
) -> Sequence[Account]:
    """Oldest first (as the domains read them all), or newest first (as the API lists them)."""
    return await repository.list_accounts(
        session,
        platform_id=platform_id,
        owner_type=owner_type,
        owner_id=owner_id,
        currency=currency,
        kind=kind,
        after_seq=after_seq,
        limit=limit,
        newest_first=newest_first,
    )


async def close_account(
    session: AsyncSession,
    *,
    account_id: str,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> Account:
    """Close the account for good; refused while it has open pending transfers,
    and without ``allow_managed`` on a managed account. Closing a closed
    account changes nothing."""
    account = await repository.get_account_for_update(session, account_id)
    if account is None:
        raise AccountNotFound(f"No ledger account {account_id}.")
    if account.is_managed and not allow_managed:
        raise AccountManaged(f"Account {account_id} is managed by Sika: only its own API closes it.")
    if account.closed_at is not None:
        return account
    if account.debits_pending or account.credits_pending:
        raise AccountHasPendingTransfers()
    account.closed_at = now
    account.updated_at = now
    account.version += 1
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        platform_id=account.platform_id,
        action="ledger.account_closed",
        entity_type="ledger_account",
        entity_id=account.id,
    )
    return account


async def get_balance(session: AsyncSession, *, account_id: str) -> Balance:
    """Posted, pending and available, as of this transaction's latest read."""
    return balance_of(await get_account(session, account_id=account_id))


async def lock_accounts(session: AsyncSession, *, account_ids: Sequence[str]) -> None:
    """Lock these accounts now, in ascending id order, for a caller about to
    make several ledger calls in one transaction: the later calls then find
    every lock already held, so two such callers cannot deadlock."""
    found = await repository.lock_accounts(session, account_ids)
    missing = sorted(set(account_ids) - set(found))
    if missing:
        raise AccountNotFound(f"No ledger account {missing[0]}.")
