"""What the ledger's functions return: transfers as written, journal entries,
balances, and an account's history entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sika.ledger import repository
from sika.ledger.models import Account


@dataclass(frozen=True)
class TransferRecord:
    """A transfer as written (or, with ``replayed``, as it was first written)."""

    id: str
    kind: str
    debit_account_id: str
    credit_account_id: str
    amount_minor: int
    currency: str
    code: str
    pending_id: str | None
    timeout_seconds: int | None
    expires_at: datetime | None
    journal_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    replayed: bool = False
    """True when this id existed already with the same content: nothing new was written."""


@dataclass(frozen=True)
class Leg:
    """One transfer of a journal entry."""

    debit_account_id: str
    credit_account_id: str
    amount_minor: int
    currency: str
    code: str
    pending: bool = False
    timeout_seconds: int | None = None
    transfer_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class JournalEntry:
    id: str
    transfers: tuple[TransferRecord, ...]


@dataclass(frozen=True)
class Balance:
    """An account's totals and what they mean.

    An account is credit-normal (a wallet, a liability: its balance is
    credits minus debits) unless it has ``credits_must_not_exceed_debits``,
    which makes it debit-normal (an asset: debits minus credits).

    * ``posted_minor``: the balance of posted transfers;
    * ``pending_minor``: the net effect of the open pending transfers, were they all posted;
    * ``available_minor``: posted, less the pending transfers that would
      reduce it (funds on hold); incoming pending money is not available yet.
    """

    account_id: str
    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    posted_minor: int
    pending_minor: int
    available_minor: int
    version: int


def balance_of(account: Account) -> Balance:
    if account.credits_must_not_exceed_debits:
        posted = account.debits_posted - account.credits_posted
        pending = account.debits_pending - account.credits_pending
        available = posted - account.credits_pending
    else:
        posted = account.credits_posted - account.debits_posted
        pending = account.credits_pending - account.debits_pending
        available = posted - account.debits_pending
    return Balance(
        account_id=account.id,
        currency=account.currency,
        debits_posted=account.debits_posted,
        credits_posted=account.credits_posted,
        debits_pending=account.debits_pending,
        credits_pending=account.credits_pending,
        posted_minor=posted,
        pending_minor=pending,
        available_minor=available,
        version=account.version,
    )


AccountEntry = repository.EntryRow
"""One transfer seen from one account, with the account's totals before and after it."""
