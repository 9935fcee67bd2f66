"""The ledger's errors, each with its stable ``code``, and the error each
refusal code of ``ledger_apply_transfers`` raises (``ERRORS_BY_CODE``)."""

from __future__ import annotations

from sika.core import errors


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
