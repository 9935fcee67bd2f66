"""HTTP shapes of escrows. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from sika.core.money import MAX_AMOUNT_MINOR
from sika.escrow.states import AutoPayout, EscrowStatus, MilestoneStatus
from sika.payments import schemas as payments_schemas
from sika.providers import base as provider_base

MAX_MILESTONES = 50
MAX_RELEASE_DELAY_SECONDS = 365 * 86_400
MAX_METADATA_BYTES = 4096

AmountMinor = Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)]
Share = Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR, strict=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
PartyId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


def _small(metadata: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata takes at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


Metadata = Annotated[dict[str, Any], Field(max_length=32), AfterValidator(_small)]


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    amount_minor: AmountMinor
    deliver_by: AwareDatetime | None = None
    """Still pending (not delivered) at this instant, it is refunded to the client. With its
    offset (``2026-12-31T18:00:00Z``): an instant, not a wall-clock time."""


class AutoPayoutTo(BaseModel):
    """The beneficiary's mobile money, where each release's net amount is paid out."""

    model_config = ConfigDict(extra="forbid")

    operator: provider_base.MobileOperator
    phone: payments_schemas.Phone | None = None
    """E.164; the beneficiary's phone on record when left out (422 ``auto_payout_phone_required``
    if it has none)."""
    country: payments_schemas.Country | None = None
    """Where the mobile money lives; the beneficiary's country when left out."""


class EscrowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_party_id: PartyId
    """Who pays in (from their wallet in ``currency``) and is refunded."""
    beneficiary_party_id: PartyId
    """Who is paid on release (to their wallet in ``currency``)."""
    currency: Currency
    amount_minor: AmountMinor
    """The milestones' amounts must add up to it (422 ``milestones_do_not_add_up`` otherwise)."""
    milestones: Annotated[list[MilestoneCreate], Field(min_length=1, max_length=MAX_MILESTONES)]
    release_after_delivery_seconds: Annotated[int, Field(ge=0, le=MAX_RELEASE_DELAY_SECONDS, strict=True)] | None = None
    """How long after delivery a milestone is released unless the client approves or disputes
    first; by default the platform's ``auto_release_delay_seconds`` (48 hours unless changed)."""
    platform_fee_minor: Share | None = None
    """The platform's fee on the whole escrow, instead of its fee policy's; split over the
    milestones in proportion to their amounts."""
    auto_payout: AutoPayoutTo | None = None
    """Pay each release out to the beneficiary's mobile money at once (one payout of the
    amount released less the fee); without it, released money stays in the beneficiary's wallet."""
    metadata: Metadata = Field(default_factory=dict)


class Deposit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor | None = None
    """What to deposit; by default what is still missing."""
    method: payments_schemas.Method | None = None
    """Collect the deposit from the client's mobile money or card instead of taking it from
    their wallet: a collection into the client's wallet whose success is deposited into the
    escrow at once (docs/escrow.md). Without it, the deposit comes from the client's wallet."""
    email: payments_schemas.Email | None = None
    """With ``method``: the customer's email for the provider; the client's when left out."""
    return_url: payments_schemas.Url | None = None
    """With ``method``: where a redirect flow (Wave, 3-D Secure) sends the customer back."""

    @model_validator(mode="after")
    def _collection_fields_with_a_method(self) -> Deposit:
        if self.method is None and (self.email is not None or self.return_url is not None):
            raise ValueError("email and return_url go with method: a deposit from the wallet takes neither")
        return self


class Dispute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_minor: Share
    """Paid to the beneficiary (less the same share of the milestone's fee)."""
    refund_minor: Share
    """Given back to the client. The two add up to the milestone's amount."""
    note: Text


class AutoPayoutShown(BaseModel):
    operator: str
    phone: str
    country: str | None
    """None: the beneficiary's country."""


class MilestoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    title: str
    amount_minor: int
    fee_minor: int
    status: MilestoneStatus
    deliver_by: datetime | None
    delivered_at: datetime | None
    release_at: datetime | None
    disputed_at: datetime | None
    dispute_reason: str | None
    released_minor: int
    """Paid out on release, the fee included."""
    fee_paid_minor: int
    refunded_minor: int
    resolution_note: str | None
    completed_at: datetime | None
    payout_state: AutoPayout | None
    """With ``auto_payout``, once released: ``due`` (the payout is about to start), ``started``
    (``payout_id``) or ``refused`` (the money stayed in the wallet)."""
    payout_id: str | None
    proof_required: bool
    """Not released when the client stays silent until a proof of delivery is approved (docs/proofs.md)."""


class EscrowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_party_id: str
    beneficiary_party_id: str
    client_wallet_id: str
    beneficiary_wallet_id: str
    currency: str
    amount_minor: int
    fee_minor: int
    funded_minor: int
    released_minor: int
    refunded_minor: int
    held_minor: int
    """In the escrow's account now: deposited, less released and refunded."""
    status: EscrowStatus
    release_after_delivery_seconds: int
    auto_payout: AutoPayoutShown | None
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    milestones: list[MilestoneOut]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class FundOut(EscrowOut):
    collection: payments_schemas.CollectionOut | None = None
    """With ``method``: the collection started, as the provider's answer left it
    (``next_action`` says what the customer must do); the escrow is funded once it succeeds."""


class EscrowPage(BaseModel):
    data: list[EscrowOut]
    next_cursor: str | None
