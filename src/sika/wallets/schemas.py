from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sika.core.money import MAX_AMOUNT_MINOR

AmountMinor = Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)]
"""A positive integer in the currency's minor unit; never a float."""
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

MAX_HOLD_SECONDS = 30 * 24 * 3600
"""A hold reserves funds for 30 days at most."""


class WalletCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency


class WalletOut(BaseModel):
    id: str
    party_id: str
    currency: str
    account_id: str
    """The ledger account holding the wallet's money: its posted totals are the balance, its
    pending debits the held money (``GET /v1/ledger/accounts/{id}`` shows it to operators)."""
    holds_account_id: str
    """The wallet's own ledger account its holds reserve money towards; empty between requests,
    since a capture pays out of it in the transaction that fills it."""
    balance_minor: int
    """Posted money: credits less debits."""
    held_minor: int
    """Reserved by open holds; a hold past its expiry no longer counts."""
    available_minor: int
    """``balance_minor - held_minor``: what a new hold or debit may take."""
    created_at: datetime


class WalletPage(BaseModel):
    data: list[WalletOut]
    next_cursor: str | None


class TopUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor
    reference: Reference | None = None
    reason: Reason = "top-up"


class TopUpOut(BaseModel):
    transfer_id: str
    amount_minor: int
    currency: str
    reference: str | None
    reason: str
    created_at: datetime
    wallet: WalletOut
    """The wallet after the top-up."""


class HoldStatus(StrEnum):
    open = "open"
    captured = "captured"
    released = "released"
    expired = "expired"


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor
    reason: Reason
    reference: Reference | None = None
    expires_in_seconds: Annotated[int, Field(ge=1, le=MAX_HOLD_SECONDS, strict=True)] | None = None
    """Expires this long after placing, unless captured or released first."""


class HoldCapture(BaseModel):
    """Capture a hold in full (no ``amount_minor``) or in part, the rest
    returning to the wallet. The captured money goes to ``destination_wallet_id``
    less the platform's fee, which goes to the platform's fee account: ``platform_fee_minor``
    if given, else what the platform's fee policy takes in the hold's currency.
    Without a destination wallet all of it goes to the platform's fee account.
    A party token names a destination and sets no fee (its platform's policy applies)."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor | None = None
    destination_wallet_id: str | None = Field(default=None, min_length=1, max_length=64)
    platform_fee_minor: Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR, strict=True)] | None = None


class HoldOut(BaseModel):
    id: str
    wallet_id: str
    currency: str
    amount_minor: int
    """What the hold reserved."""
    status: HoldStatus
    """``expired`` as soon as ``expires_at`` has passed, even before the expiry job records it."""
    captured_minor: int
    """What was captured (0 unless captured); the rest went back to the wallet."""
    returned_minor: int
    """What went back to the wallet's available money: the hold less what was captured once
    captured, all of it once released or expired, 0 while open."""
    destination_wallet_id: str | None
    """The wallet the capture paid; null unless captured to a wallet (a capture without one pays
    the platform everything; a payout's hold pays the provider)."""
    destination_minor: int
    """What the destination wallet received: ``captured_minor`` less ``platform_fee_minor``."""
    platform_fee_minor: int
    """The platform's part of the capture (everything when captured to no wallet)."""
    fee_account_id: str | None
    """The platform's fee ledger account that received ``platform_fee_minor``; null when no fee was taken."""
    owner_type: str
    """``api`` for a hold placed over this API; otherwise the domain object whose flow alone
    captures or releases it (``payout``)."""
    owner_id: str | None
    """That object's id (the payout's); null for ``api``."""
    reason: str
    reference: str | None
    expires_at: datetime | None
    created_at: datetime
    resolved_at: datetime | None
    """When it was captured, released or expired."""
    wallet: WalletOut
    """The wallet as it stands after this request."""


class HoldPage(BaseModel):
    data: list[HoldOut]
    next_cursor: str | None


class EntryType(StrEnum):
    credit = "credit"
    debit = "debit"
    hold_placed = "hold_placed"
    hold_captured = "hold_captured"
    hold_released = "hold_released"
    hold_expired = "hold_expired"


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    transfer_id: str
    type: EntryType
    amount_minor: int
    """Money that moved: for a capture, the captured part; for a release or expiry, what returned."""
    balance_before_minor: int
    balance_after_minor: int
    held_before_minor: int
    held_after_minor: int
    hold_id: str | None
    """The hold this entry placed, captured, released or expired, or whose capture paid this credit."""
    collection_id: str | None
    """The collection whose success credited this wallet."""
    payout_id: str | None
    """The payout this entry's hold guarantees, or whose reversal gave the money back."""
    reference: str | None
    reason: str | None
    created_at: datetime


class HistoryPage(BaseModel):
    data: list[HistoryEntryOut]
    next_cursor: str | None


class CurrencySummaryOut(BaseModel):
    """A party's money in one currency: its wallet now, its escrows now, and the month's flows.
    Served by ``GET /v1/parties/{id}/summary``, which the escrow domain answers: it reads
    the wallets, the payouts' holds and the escrows, and sits above all three."""

    model_config = ConfigDict(from_attributes=True)

    currency: str
    balance_minor: int
    held_minor: int
    available_minor: int
    escrow_pending_minor: int
    """Held now in escrows the party is the beneficiary of, not yet released (their fee included)."""
    next_release_at: datetime | None
    """The earliest time one of those escrows' delivered milestones is released, unless approved or disputed first."""
    received_this_month_minor: int
    """Everything credited to the wallet in the month (releases, collections, captures, top-ups)."""
    released_this_month_minor: int
    """What escrow releases put in the wallet in the month (less their fee)."""
    paid_out_this_month_minor: int
    """What payouts took out of the wallet in the month (other debits are not counted)."""
    fees_paid_this_month_minor: int
    """What the party paid its platform in fees in the month: its captured holds' fees and its releases' fees."""


class PartySummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    party_id: str
    platform_id: str
    month: str
    """The month (UTC) the monthly figures cover, ``YYYY-MM``: the current one unless asked."""
    month_start: datetime
    """The start (UTC) of the month the monthly figures cover."""
    currencies: list[CurrencySummaryOut]


class FeeBalanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    account_id: str
    earned_minor: int
    """Everything the platform's fee account holds in this currency."""


class PlatformFeesOut(BaseModel):
    platform_id: str
    data: list[FeeBalanceOut]
