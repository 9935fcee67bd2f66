"""The ledger: the only code that moves money (DESIGN.md §3).

Two ways in, one set of rules:

* **Inside the caller's transaction** (wallets, escrow, payments): the
  functions here take the caller's ``session`` and never commit, so a hold
  and the wallet row that records it commit together or not at all.
* **The grouped path** for standalone transfers (the transfers API, bulk
  work): ``submit_transfer`` hands the transfer to ``sika.ledger.batcher``,
  which applies the transfers that arrive together in one transaction and
  one round trip, and answers each caller on its own.

Both call the database function ``ledger_apply_transfers`` (migration
``0002``), which locks the accounts in ascending id order, checks each
transfer in order against running totals, updates each account once and
writes the transfers and their audit rows; the CHECK constraints and
triggers back it.

Words (docs/glossary.md): a *pending transfer* reserves funds; it is
*posted* (in full or in part, the remainder returns), *voided*, or it
*expires* at its timeout. Each is a transfer of its own, of kind
``post_pending``, ``void_pending`` or ``expire_pending``.

Errors, each with its stable ``code``::

    AccountNotFound, TransferNotFound, PendingTransferNotFound      (404)
    InsufficientFunds, ExceedsDebits, AccountClosed, AccountManaged, TransferExists,
    TransferNotPending, PendingTransferAlreadyResolved,
    PendingTransferExpired, PendingTransferNotExpired,
    AccountHasPendingTransfers, TransferInFlight                     (409)
    InvalidAmount, AmountOverflow, AmountExceedsPending, SameAccount,
    CurrencyMismatch, InvalidAccount, InvalidTransfer, TransferIdReserved,
    UnknownCurrency                                                  (422)
    LedgerBusy                                                       (503)

A refused transfer writes nothing: balances and transfers stay as they were.

*Managed* accounts are those a domain service opened (``managed=True``:
wallets and their holds, funding, fees, provider clearing). The raw ledger
API passes ``allow_managed=False`` to the writes it exposes, which then
refuse to move money on them or to close them (``AccountManaged``); the
domains call the same functions with the default and are unaffected.

*Reserved ids*: every transfer id Sika makes or derives begins like a Sika
id (``xfr_…``, ``hold_…``, ``col_….credit``, ``po_….reversal``;
``sika.core.ids``). The ledger API's schemas refuse such an id from a caller
(``check_client_transfer_id``, ``TransferIdReserved``), so a caller cannot
take an id before the domain that derives it does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, ids, money
from sika.core.context import Actor
from sika.ledger import batcher, repository
from sika.ledger.models import RESOLUTION_KINDS, Account, Transfer

log = structlog.get_logger(__name__)

MAX_JOURNAL_LEGS = 64
"""A journal entry applies at most this many transfers at once."""
MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 32
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600
"""A pending transfer may reserve funds for a year at most."""
EXPIRY_BATCH_SIZE = 200
"""Pending transfers expired per transaction by the expiry job."""
RETRY_AFTER_SECONDS = 1
"""What a ``LedgerBusy`` answer tells the caller to wait before trying again."""

# Matched whole (fullmatch): "$" would let a trailing newline through.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_CODE_PATTERN = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_.]{0,49}")


# Errors ---------------------------------------------------------------------


class AccountNotFound(errors.NotFound):
    """No such ledger account."""

    code = "account_not_found"


class TransferNotFound(errors.NotFound):
    """No such transfer."""

    code = "transfer_not_found"


class PendingTransferNotFound(errors.NotFound):
    """No such pending transfer."""

    code = "pending_transfer_not_found"


class InsufficientFunds(errors.Conflict):
    """The debit account does not have enough available funds."""

    code = "insufficient_funds"


class ExceedsDebits(errors.Conflict):
    """The credit account may not take more credits than its debits."""

    code = "exceeds_debits"


class AccountClosed(errors.Conflict):
    """The account is closed and takes no new transfers."""

    code = "account_closed"


class AccountManaged(errors.Conflict):
    """The account is managed by Sika: only its own API moves money on it or closes it."""

    # 409, not 403: the caller's key is allowed to use the ledger, and no
    # other key may do this through the raw API either. It is the account's
    # state (a wallet, a hold, a fee or clearing account, whose rules live in
    # their domain) that refuses the write, as a closed account does.
    code = "account_managed"


class AccountHasPendingTransfers(errors.Conflict):
    """The account has open pending transfers; post or void them first."""

    code = "account_has_pending_transfers"


class TransferExists(errors.Conflict):
    """A transfer with this id already exists with different content."""

    code = "transfer_exists"


class TransferInFlight(errors.Conflict):
    """A transfer with this id is being written by another request; retry to get its answer."""

    code = "transfer_in_flight"


class TransferNotPending(errors.Conflict):
    """The transfer is not a pending transfer."""

    code = "transfer_not_pending"


class PendingTransferAlreadyResolved(errors.Conflict):
    """The pending transfer was already posted, voided or expired."""

    code = "pending_transfer_already_resolved"


class PendingTransferExpired(errors.Conflict):
    """The pending transfer has passed its timeout."""

    code = "pending_transfer_expired"


class PendingTransferNotExpired(errors.Conflict):
    """The pending transfer has not reached its timeout."""

    code = "pending_transfer_not_expired"


class InvalidAmount(errors.ValidationFailed):
    """The amount must be a positive integer in minor units."""

    code = "invalid_amount"


class AmountOverflow(errors.ValidationFailed):
    """An account total would pass the largest amount the ledger can hold."""

    code = "amount_overflow"


class AmountExceedsPending(errors.ValidationFailed):
    """The amount to post is larger than the pending transfer."""

    code = "amount_exceeds_pending"


class SameAccount(errors.ValidationFailed):
    """A transfer needs two different accounts."""

    code = "same_account"


class CurrencyMismatch(errors.ValidationFailed):
    """The transfer's currency differs from its accounts' currency."""

    code = "currency_mismatch"


class InvalidAccount(errors.ValidationFailed):
    """The account's attributes are not valid."""

    code = "invalid_account"


class InvalidTransfer(errors.ValidationFailed):
    """The transfer's attributes are not valid."""

    code = "invalid_transfer"


class TransferIdReserved(errors.ValidationFailed):
    """Ids that begin like a Sika id (xfr_…, hold_…, col_….credit) are reserved for the transfers Sika makes."""

    code = "transfer_id_reserved"


class LedgerBusy(errors.ServiceUnavailable):
    """The ledger could not apply the transfer after several attempts; retry later."""

    code = "ledger_busy"


ERRORS_BY_CODE: dict[str, type[errors.SikaError]] = {
    cls.code: cls
    for cls in (
        AccountNotFound,
        PendingTransferNotFound,
        InsufficientFunds,
        ExceedsDebits,
        AccountClosed,
        AccountManaged,
        TransferExists,
        TransferNotPending,
        PendingTransferAlreadyResolved,
        PendingTransferExpired,
        PendingTransferNotExpired,
        InvalidAmount,
        AmountOverflow,
        AmountExceedsPending,
        SameAccount,
        CurrencyMismatch,
    )
}
"""The database function's refusal codes, and the error each one raises."""


# Values ---------------------------------------------------------------------


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


# Validation that needs no database --------------------------------------------


def check_amount(amount_minor: int) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidAmount()
    if amount_minor <= 0:
        raise InvalidAmount()
    if amount_minor > money.MAX_AMOUNT_MINOR:
        raise AmountOverflow(f"The amount may not exceed {money.MAX_AMOUNT_MINOR}.")
    return amount_minor


def check_transfer_id(transfer_id: str) -> str:
    if not _ID_PATTERN.fullmatch(transfer_id):
        raise InvalidTransfer(
            "A transfer id is 1 to 64 characters: letters, digits and _ . : - (not first)."
        )
    return transfer_id


def check_client_transfer_id(transfer_id: str) -> str:
    """A transfer or journal entry id a caller chose: refused if it begins like
    a Sika id, the shape of every id Sika makes or derives (``xfr_…``,
    ``hold_…``, ``col_….credit``, ``po_….reversal``), so that a caller never
    holds an id a domain will write later (its write would then fail)."""
    if ids.begins_like_sika_id(transfer_id):
        raise TransferIdReserved(
            f"Transfer id {transfer_id} is reserved: an id of your own may not begin like a Sika id"
            " (lowercase letters, _ and 26 of a-z and 2-7, as in xfr_…, hold_… or col_….credit).",
            transfer_id=transfer_id,
        )
    return transfer_id


def check_account_id(account_id: str) -> str:
    # Every account id has a transfer id's shape (generated, or checked by
    # ensure_account): anything else names no account, and may not even be
    # storable text (U+0000).
    if not _ID_PATTERN.fullmatch(account_id):
        raise InvalidTransfer(f"{account_id!r} is not a ledger account id.")
    return account_id


def check_code(code: str) -> str:
    if not _CODE_PATTERN.fullmatch(code):
        raise InvalidTransfer(
            "A transfer code is 1 to 64 characters: lowercase letters, digits and _ . : -, "
            "starting with a letter."
        )
    return code


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidTransfer(f"Metadata may hold at most {MAX_METADATA_KEYS} keys.")
    try:
        # No NaN or Infinity: JSON has neither, and jsonb refuses them.
        encoded = json.dumps(metadata, separators=(", ", ": "), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidTransfer("Metadata must be JSON (and a number finite).") from None
    try:
        size = len(encoded.encode()) + _jsonb_growth(metadata)
    except ValueError:
        raise InvalidTransfer("Metadata text may not contain U+0000 or a lone surrogate.") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidTransfer(f"Metadata may take at most {MAX_METADATA_BYTES} bytes.")
    return metadata


def _jsonb_growth(value: Any) -> int:
    """How much longer PostgreSQL writes ``value`` as jsonb text (what its size
    check measures) than ``json.dumps`` does: a number prints in full there
    (1e300 is 301 digits). Raises ``ValueError`` on a string jsonb cannot
    hold, in a key or a value: U+0000, or a lone surrogate."""
    if isinstance(value, str):
        _check_text(value)
        return 0
    if isinstance(value, float):
        return len(format(Decimal(repr(value)), "f")) - len(repr(value))
    if isinstance(value, dict):
        return sum(_jsonb_growth(key) + _jsonb_growth(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(_jsonb_growth(item) for item in value)
    return 0


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("U+0000 cannot be stored")
    text.encode()  # UnicodeEncodeError (a ValueError) on a lone surrogate


def check_timeout(timeout_seconds: int | None, *, pending: bool) -> int | None:
    if timeout_seconds is None:
        return None
    if not pending:
        raise InvalidTransfer("Only a pending transfer has a timeout.")
    if not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidTransfer(f"A timeout is 1 to {MAX_TIMEOUT_SECONDS} seconds.")
    return timeout_seconds


def transfer_id_for_key(*, owner: str, key: str) -> str:
    """A transfer id derived from a client's idempotency key, for the grouped
    path, which commits apart from the request: if the request's own commit
    is lost, the retry with the same key finds this transfer by its id
    instead of writing a second one."""
    return "xfr_" + ids.random_part(hashlib.sha256(f"{owner}\x00{key}".encode()).digest())


def transfer_request(
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool,
    timeout_seconds: int | None,
    transfer_id: str | None,
    metadata: dict[str, Any] | None,
    journal_id: str | None,
    actor: Actor,
    allow_managed: bool = True,
) -> repository.TransferRequest:
    """A validated new transfer (posted or pending); raises on what needs no database to refuse.
    Without ``allow_managed``, the database refuses it on a managed account."""
    money.check_currency(currency)
    return repository.TransferRequest(
        id=check_transfer_id(transfer_id) if transfer_id is not None else ids.new_id("xfr"),
        id_generated=transfer_id is None,
        kind="pending" if pending else "posted",
        debit_account_id=check_account_id(debit_account_id),
        credit_account_id=check_account_id(credit_account_id),
        amount_minor=check_amount(amount_minor),
        currency=currency,
        code=check_code(code),
        pending_id=None,
        timeout_seconds=check_timeout(timeout_seconds, pending=pending),
        metadata=check_metadata(metadata),
        journal_id=journal_id,
        actor_id=actor.id,
        request_id=actor.request_id,
        refuse_managed=not allow_managed,
    )


def resolution_request(
    *,
    kind: str,
    pending_id: str,
    amount_minor: int | None,
    transfer_id: str | None,
    code: str | None,
    metadata: dict[str, Any] | None,
    actor: Actor,
    allow_managed: bool = True,
) -> repository.TransferRequest:
    assert kind in RESOLUTION_KINDS
    return repository.TransferRequest(
        id=check_transfer_id(transfer_id) if transfer_id is not None else ids.new_id("xfr"),
        id_generated=transfer_id is None,
        kind=kind,
        debit_account_id=None,
        credit_account_id=None,
        amount_minor=check_amount(amount_minor) if amount_minor is not None else None,
        currency=None,
        code=check_code(code) if code is not None else None,
        pending_id=check_transfer_id(pending_id),
        timeout_seconds=None,
        metadata=check_metadata(metadata),
        journal_id=None,
        actor_id=actor.id,
        request_id=actor.request_id,
        refuse_managed=not allow_managed,
    )


def record_of(row: repository.AppliedRow) -> TransferRecord:
    """The transfer an accepted row describes; raises the row's refusal."""
    if row.error_code is not None:
        raise error_of(row)
    assert row.debit_account_id is not None
    assert row.credit_account_id is not None
    assert row.amount_minor is not None
    assert row.currency is not None
    assert row.code is not None
    return TransferRecord(
        id=row.id,
        kind=row.kind,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        code=row.code,
        pending_id=row.pending_id,
        timeout_seconds=row.timeout_seconds,
        expires_at=row.expires_at,
        journal_id=row.journal_id,
        metadata=row.metadata,
        created_at=row.created_at,
        replayed=row.replayed,
    )


def error_of(row: repository.AppliedRow, *, leg: int | None = None) -> errors.SikaError:
    assert row.error_code is not None
    cls = ERRORS_BY_CODE.get(row.error_code, InvalidTransfer)
    extra: dict[str, Any] = {"transfer_id": row.id}
    detail = row.error_detail
    if leg is not None:
        extra["leg"] = leg
        detail = f"Leg {leg}: {detail}"
    return cls(detail, **extra)


# Accounts -------------------------------------------------------------------


def _check_account(
    *, currency: str, kind: str, debits_must_not_exceed_credits: bool, credits_must_not_exceed_debits: bool
) -> None:
    money.check_currency(currency)
    if not _KIND_PATTERN.fullmatch(kind):
        raise InvalidAccount("An account kind is lowercase letters, digits, _ and ., at most 50.")
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise InvalidAccount(
            "An account has at most one of debits_must_not_exceed_credits"
            " and credits_must_not_exceed_debits."
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
    now: datetime,
    actor: Actor,
) -> Account:
    """Open an account with zero totals.

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
    now: datetime,
    actor: Actor,
) -> Account:
    """The system account with this fixed id, opened on first use.

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
            "created_at": now,
            "updated_at": now,
        },
    )
    account = await get_account(session, account_id=account_id)
    expected = (
        currency,
        kind,
        None,
        debits_must_not_exceed_credits,
        credits_must_not_exceed_debits,
        managed,
    )
    found = (
        account.currency,
        account.kind,
        account.owner_type,
        account.debits_must_not_exceed_credits,
        account.credits_must_not_exceed_debits,
        account.is_managed,
    )
    if found != expected:
        raise InvalidAccount(f"Account {account_id} exists with other attributes.")
    if inserted:
        await audit_service.record(
            session,
            actor=actor,
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
) -> Sequence[Account]:
    return await repository.list_accounts(
        session,
        owner_type=owner_type,
        owner_id=owner_id,
        currency=currency,
        kind=kind,
        after_seq=after_seq,
        limit=limit,
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
        action="ledger.account_closed",
        entity_type="ledger_account",
        entity_id=account.id,
    )
    return account


async def get_balance(session: AsyncSession, *, account_id: str) -> Balance:
    """Posted, pending and available, as of this transaction's latest read."""
    return balance_of(await get_account(session, account_id=account_id))


# Transfers inside the caller's transaction ----------------------------------


async def create_transfer(
    session: AsyncSession,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool = False,
    timeout_seconds: int | None = None,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Move ``amount_minor`` from ``debit_account_id`` to ``credit_account_id``
    in the caller's transaction; with ``pending`` only reserve it (a hold),
    until ``post_pending``, ``void_pending`` or its ``timeout_seconds``.

    The same ``transfer_id`` with the same content returns the original
    (``replayed``); with other content raises ``TransferExists``. A refusal
    raises its error and writes nothing."""
    request = transfer_request(
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount_minor=amount_minor,
        currency=currency,
        code=code,
        pending=pending,
        timeout_seconds=timeout_seconds,
        transfer_id=transfer_id,
        metadata=metadata,
        journal_id=None,
        actor=actor,
    )
    (row,) = await _apply(session, [request], now=now, atomic=True)
    return record_of(row)


async def create_journal_entry(
    session: AsyncSession,
    *,
    legs: Sequence[Leg],
    journal_id: str | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> JournalEntry:
    """Apply several transfers all or nothing, in order (each leg sees the
    ones before it). A refusal raises the failing leg's error with
    ``extra["leg"]`` (0-based) and writes nothing."""
    if not 1 <= len(legs) <= MAX_JOURNAL_LEGS:
        raise InvalidTransfer(f"A journal entry has 1 to {MAX_JOURNAL_LEGS} legs.")
    entry_id = check_transfer_id(journal_id) if journal_id is not None else ids.new_id("jrn")
    requests = []
    for index, leg in enumerate(legs):
        try:
            requests.append(
                transfer_request(
                    debit_account_id=leg.debit_account_id,
                    credit_account_id=leg.credit_account_id,
                    amount_minor=leg.amount_minor,
                    currency=leg.currency,
                    code=leg.code,
                    pending=leg.pending,
                    timeout_seconds=leg.timeout_seconds,
                    transfer_id=leg.transfer_id,
                    metadata=leg.metadata,
                    journal_id=entry_id,
                    actor=actor,
                    allow_managed=allow_managed,
                )
            )
        except errors.SikaError as exc:
            raise type(exc)(f"Leg {index}: {exc.detail}", leg=index) from None
    if len({r.id for r in requests}) != len(requests):
        raise InvalidTransfer("The legs of a journal entry need distinct transfer ids.")
    rows = await _apply(session, requests, now=now, atomic=True)
    for index, row in enumerate(rows):
        if row.error_code is not None:
            raise error_of(row, leg=index)
    return JournalEntry(id=entry_id, transfers=tuple(record_of(row) for row in rows))


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
    request = resolution_request(
        kind=kind,
        pending_id=pending_id,
        amount_minor=amount_minor,
        transfer_id=transfer_id,
        code=None,
        metadata=metadata,
        actor=actor,
        allow_managed=allow_managed,
    )
    (row,) = await _apply(session, [request], now=now, atomic=True)
    return record_of(row)


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
            "SELECT transfer_id FROM ledger_pending_timeouts WHERE expires_at <= :now"
            " ORDER BY expires_at LIMIT :limit"
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
        resolution_request(
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
    rows = await _apply(session, requests, now=now, atomic=False)
    return sum(1 for row in rows if row.error_code is None)


async def get_transfer(session: AsyncSession, *, transfer_id: str) -> Transfer:
    transfer = await repository.get_transfer(session, transfer_id)
    if transfer is None:
        raise TransferNotFound(f"No transfer {transfer_id}.")
    return transfer


async def list_account_transfers(
    session: AsyncSession,
    *,
    account_id: str,
    side: str | None = None,
    kind: str | None = None,
    code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> Sequence[Transfer]:
    """An account's transfers, newest first; ``before_seq`` is the cursor."""
    await get_account(session, account_id=account_id)
    return await repository.list_account_transfers(
        session,
        account_id=account_id,
        side=side,
        kind=kind,
        code=code,
        since=since,
        until=until,
        before_seq=before_seq,
        limit=limit,
    )


AccountEntry = repository.EntryRow
"""One transfer seen from one account, with the account's totals before and after it."""


async def get_resolutions(session: AsyncSession, *, pending_ids: Sequence[str]) -> dict[str, Transfer]:
    """For each pending transfer already posted, voided or expired, the
    transfer that did it; open ones are absent."""
    return await repository.resolutions_of(session, pending_ids)


async def lock_accounts(session: AsyncSession, *, account_ids: Sequence[str]) -> None:
    """Lock these accounts now, in ascending id order, for a caller about to
    make several ledger calls in one transaction: the later calls then find
    every lock already held, so two such callers cannot deadlock."""
    found = await repository.lock_accounts(session, account_ids)
    missing = sorted(set(account_ids) - set(found))
    if missing:
        raise AccountNotFound(f"No ledger account {missing[0]}.")


async def list_account_entries(
    session: AsyncSession, *, account_id: str, before_seq: int | None = None, limit: int = 50
) -> list[AccountEntry]:
    """The account's transfers newest first, each with the account's four
    totals before and after it (as pgledger entries record them), derived
    from the transfers in one snapshot; ``before_seq`` is the cursor."""
    await get_account(session, account_id=account_id)
    return await repository.list_account_entries(
        session, account_id=account_id, before_seq=before_seq, limit=limit
    )


async def posted_flows(
    session: AsyncSession, *, account_ids: Sequence[str], since: datetime, until: datetime
) -> dict[str, tuple[int, int]]:
    """Per account, ``(out, in)``: what was posted out of it and into it in
    ``[since, until)``, counting the posted part of pending transfers."""
    return await repository.posted_flows(
        session, account_ids=account_ids, since=since, until=until
    )


async def _apply(
    session: AsyncSession,
    requests: Sequence[repository.TransferRequest],
    *,
    now: datetime,
    atomic: bool,
) -> list[repository.AppliedRow]:
    try:
        return await repository.apply_transfers(session, requests, now=now, atomic=atomic)
    except sa.exc.IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint in _RACED_CONSTRAINTS:
            # Another transaction wrote the same transfer id (or resolved the
            # same pending transfer) between our check and our insert.
            raise TransferInFlight() from exc
        raise


_RACED_CONSTRAINTS = frozenset({"pk_ledger_transfers", "uq_ledger_transfers_pending_id"})


# The grouped path --------------------------------------------------------------


async def submit_transfer(
    engine: AsyncEngine,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    currency: str,
    code: str,
    pending: bool = False,
    timeout_seconds: int | None = None,
    transfer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    allow_managed: bool = True,
    now: datetime,
    actor: Actor,
) -> TransferRecord:
    """Like ``create_transfer``, but committed on its own, grouped with the
    transfers that arrive at the same time (one transaction, one round trip).
    Returns once the transfer is durable; raises its refusal otherwise.

    A transfer the database refused on its own (the group isolates it) for
    its data is ``InvalidTransfer``; any other database failure is
    ``LedgerBusy``, to retry after ``RETRY_AFTER_SECONDS``."""
    request = transfer_request(
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount_minor=amount_minor,
        currency=currency,
        code=code,
        pending=pending,
        timeout_seconds=timeout_seconds,
        transfer_id=transfer_id,
        metadata=metadata,
        journal_id=None,
        actor=actor,
        allow_managed=allow_managed,
    )
    try:
        row = await batcher.for_engine(engine).submit(request, now=now)
    except batcher.ITEM_DATA_ERRORS as exc:
        # Every check above passed, yet the database could not take this
        # transfer's values: a check is missing, but the input is still bad.
        log.warning("ledger_transfer_unstorable", transfer_id=request.id, error=str(exc))
        raise InvalidTransfer("The ledger cannot store this transfer's values.", transfer_id=request.id) from exc
    except psycopg.Error as exc:
        raise LedgerBusy(retry_after_seconds=RETRY_AFTER_SECONDS) from exc
    return record_of(row)
