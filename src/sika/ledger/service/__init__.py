"""The ledger: the only code that moves money.

Two ways in, one set of rules:

* **Inside the caller's transaction** (wallets, escrow, payments): the
  functions here take the caller's ``session`` and never commit, so a hold
  and the wallet row that records it commit together or not at all.
* **The grouped path** for standalone transfers of in-process bulk work:
  ``submit_transfer`` hands the transfer to ``sika.ledger.batcher``,
  which applies the transfers that arrive together in one transaction and
  one round trip, and answers each caller on its own.

Both call the database function ``ledger_apply_transfers``
(``sika/ledger/sql/ledger.sql``), which locks the accounts in ascending id
order, checks each transfer in order against running totals, updates each
account once and writes the transfers and their audit rows; the CHECK
constraints and triggers back it.

Words (docs/glossary.md): a *pending transfer* reserves funds; it is
*posted* (in full or in part, the remainder returns), *voided*, or it
*expires* at its timeout. Each is a transfer of its own, of kind
``post_pending``, ``void_pending`` or ``expire_pending``.

The service is split by flow, one module each: ``accounts`` (open, read,
lock, close), ``transfers`` (one, a journal entry, or the grouped path),
``pending`` (post, void, expire) and ``history`` (reads of what was
written); beside them ``errors``, ``values`` (what the functions return),
``validation`` (checks that need no database) and ``writer`` (the one way
into ``ledger_apply_transfers`` from a caller's transaction). Every public
name is re-exported here, so ``from sika.ledger import service as
ledger_service`` reaches them all.

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

from sika.ledger.repository import AppliedRow, TransferRequest
from sika.ledger.service.accounts import (
    close_account,
    create_account,
    ensure_account,
    get_account,
    get_balance,
    list_accounts,
    lock_accounts,
)
from sika.ledger.service.errors import (
    ERRORS_BY_CODE,
    AccountClosed,
    AccountHasPendingTransfers,
    AccountManaged,
    AccountNotFound,
    AmountExceedsPending,
    AmountOverflow,
    CurrencyMismatch,
    ExceedsDebits,
    InsufficientFunds,
    InvalidAccount,
    InvalidAmount,
    InvalidTransfer,
    LedgerBusy,
    PendingTransferAlreadyResolved,
    PendingTransferExpired,
    PendingTransferNotExpired,
    PendingTransferNotFound,
    SameAccount,
    TransferExists,
    TransferIdReserved,
    TransferInFlight,
    TransferNotFound,
    TransferNotPending,
)
from sika.ledger.service.history import (
    get_resolutions,
    get_transfer,
    list_account_entries,
    list_account_transfers,
    posted_flows,
)
from sika.ledger.service.pending import (
    EXPIRY_BATCH_SIZE,
    expire_pending,
    expire_pending_transfers,
    post_pending,
    void_pending,
)
from sika.ledger.service.transfers import (
    MAX_JOURNAL_LEGS,
    RETRY_AFTER_SECONDS,
    apply_in_order,
    create_journal_entry,
    create_transfer,
    submit_transfer,
)
from sika.ledger.service.validation import (
    MAX_METADATA_BYTES,
    MAX_METADATA_KEYS,
    MAX_TIMEOUT_SECONDS,
    check_account_id,
    check_amount,
    check_client_transfer_id,
    check_code,
    check_metadata,
    check_timeout,
    check_transfer_id,
    transfer_id_for_key,
)
from sika.ledger.service.values import (
    AccountEntry,
    Balance,
    JournalEntry,
    Leg,
    TransferRecord,
    balance_of,
)
from sika.ledger.service.writer import (
    error_of,
    record_of,
    resolution_request,
    transfer_request,
)

__all__ = [
    "ERRORS_BY_CODE",
    "EXPIRY_BATCH_SIZE",
    "MAX_JOURNAL_LEGS",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_KEYS",
    "MAX_TIMEOUT_SECONDS",
    "RETRY_AFTER_SECONDS",
    "AccountClosed",
    "AccountEntry",
    "AccountHasPendingTransfers",
    "AccountManaged",
    "AccountNotFound",
    "AmountExceedsPending",
    "AmountOverflow",
    "AppliedRow",
    "Balance",
    "CurrencyMismatch",
    "ExceedsDebits",
    "InsufficientFunds",
    "InvalidAccount",
    "InvalidAmount",
    "InvalidTransfer",
    "JournalEntry",
    "LedgerBusy",
    "Leg",
    "PendingTransferAlreadyResolved",
    "PendingTransferExpired",
    "PendingTransferNotExpired",
    "PendingTransferNotFound",
    "SameAccount",
    "TransferExists",
    "TransferIdReserved",
    "TransferInFlight",
    "TransferNotFound",
    "TransferNotPending",
    "TransferRecord",
    "TransferRequest",
    "apply_in_order",
    "balance_of",
    "check_account_id",
    "check_amount",
    "check_client_transfer_id",
    "check_code",
    "check_metadata",
    "check_timeout",
    "check_transfer_id",
    "close_account",
    "create_account",
    "create_journal_entry",
    "create_transfer",
    "ensure_account",
    "error_of",
    "expire_pending",
    "expire_pending_transfers",
    "get_account",
    "get_balance",
    "get_resolutions",
    "get_transfer",
    "list_account_entries",
    "list_account_transfers",
    "list_accounts",
    "lock_accounts",
    "post_pending",
    "posted_flows",
    "record_of",
    "resolution_request",
    "submit_transfer",
    "transfer_id_for_key",
    "transfer_request",
    "void_pending",
]
