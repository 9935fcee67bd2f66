"""HTTP shapes of escrows. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from sika.core.money import MAX_AMOUNT_MINOR
from sika.escrow.states import EscrowStatus, MilestoneStatus

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
    metadata: Metadata = Field(default_factory=dict)


class Deposit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor | None = None
    """What to deposit from the client's wallet; by default what is still missing."""


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
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    milestones: list[MilestoneOut]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class EscrowPage(BaseModel):
    data: list[EscrowOut]
    next_cursor: str | None
