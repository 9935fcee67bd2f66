"""HTTP shapes of transfers. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sika.core.money import MAX_AMOUNT_MINOR

MAX_METADATA_BYTES = 4096
WalletId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _small(metadata: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata takes at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


Metadata = Annotated[dict[str, Any], Field(max_length=32), AfterValidator(_small)]


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_wallet_id: WalletId
    """The sender's wallet (a party token: its own)."""
    destination_wallet_id: WalletId
    """Another party's wallet in the same currency."""
    amount_minor: Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)]
    reference: Reference | None = None
    metadata: Metadata = Field(default_factory=dict)


class TransferOut(BaseModel):
    id: str
    seq: int
    status: str
    sender_party_id: str
    recipient_party_id: str
    source_wallet_id: str
    destination_wallet_id: str
    currency: str
    amount_minor: int
    fee_minor: int
    received_minor: int
    reference: str | None
    metadata: dict[str, Any]
    created_at: datetime


class TransferPage(BaseModel):
    data: list[TransferOut]
    next_cursor: str | None
