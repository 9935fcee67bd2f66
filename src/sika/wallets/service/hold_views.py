"""What a hold is, read: who owns it (``HoldOwner``) and how it stands
(``HoldView``: open, captured, released or expired, and where a capture's
money went, as the capture recorded it on the ledger)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sika.ledger import models as ledger_models
from sika.ledger import service as ledger_service
from sika.wallets import schemas
from sika.wallets.models import HoldOwnerType, WalletHold
from sika.wallets.service import wallets
from sika.wallets.service.fees import fee_account_id

HOLD_STATUS_BY_RESOLUTION = {
    "post_pending": schemas.HoldStatus.captured,
    "void_pending": schemas.HoldStatus.released,
    "expire_pending": schemas.HoldStatus.expired,
}


@dataclass(frozen=True)
class HoldOwner:
    """Who a hold belongs to: the holds API (``id`` None) or one domain object."""

    type: HoldOwnerType
    id: str | None = None

    def __post_init__(self) -> None:
        if (self.type is HoldOwnerType.api) != (self.id is None):
            raise ValueError("An api hold has no owner id; a domain's hold names its object.")


API_OWNER = HoldOwner(HoldOwnerType.api)
"""The owner of holds placed, captured and released over the holds API."""


@dataclass(frozen=True)
class HoldTransfer:
    """What a view reads of a hold's pending transfer or of the transfer that
    resolved it: as the ledger stored it, or as the ledger function just wrote it."""

    id: str
    kind: str
    amount_minor: int
    currency: str
    metadata: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of_model(cls, transfer: ledger_models.Transfer) -> HoldTransfer:
        return cls(
            id=transfer.id,
            kind=transfer.kind,
            amount_minor=transfer.amount_minor,
            currency=transfer.currency,
            metadata=transfer.metadata_,
            expires_at=transfer.expires_at,
            created_at=transfer.created_at,
        )

    @classmethod
    def of_record(cls, transfer: ledger_service.TransferRecord) -> HoldTransfer:
        return cls(
            id=transfer.id,
            kind=transfer.kind,
            amount_minor=transfer.amount_minor,
            currency=transfer.currency,
            metadata=transfer.metadata,
            expires_at=transfer.expires_at,
            created_at=transfer.created_at,
        )


@dataclass(frozen=True)
class HoldView:
    pending: HoldTransfer
    resolution: HoldTransfer | None
    record: WalletHold
    wallet: wallets.WalletView
    now: datetime
    """When it was read: a hold past its expiry then reads as expired."""

    @property
    def lapsed(self) -> bool:
        """Past its expiry, though the ledger has not expired it yet."""
        return self.resolution is None and is_due(self.pending, self.now)

    @property
    def status(self) -> schemas.HoldStatus:
        if self.resolution is not None:
            return HOLD_STATUS_BY_RESOLUTION[self.resolution.kind]
        return schemas.HoldStatus.expired if self.lapsed else schemas.HoldStatus.open

    @property
    def resolved_at(self) -> datetime | None:
        if self.resolution is not None:
            return self.resolution.created_at
        return self.pending.expires_at if self.lapsed else None

    @property
    def captured_minor(self) -> int:
        if self.resolution is not None and self.resolution.kind == "post_pending":
            return self.resolution.amount_minor
        return 0

    @property
    def returned_minor(self) -> int:
        """What went back to the wallet: all of a released or expired hold, the uncaptured rest of a captured one."""
        if self.status is schemas.HoldStatus.open:
            return 0
        return self.pending.amount_minor - self.captured_minor

    @property
    def capture(self) -> CaptureSplit:
        """Where the captured money went, as the capture recorded it on the ledger (the
        metadata of its post, written since holds exist)."""
        resolution = self.resolution
        recorded = resolution.metadata if resolution is not None and resolution.kind == "post_pending" else {}
        fee = int(recorded.get("platform_fee_minor") or 0)
        destination = recorded.get("destination_wallet_id")
        return CaptureSplit(
            destination_wallet_id=destination,
            destination_minor=self.captured_minor - fee if destination else 0,
            platform_fee_minor=fee,
            fee_account_id=fee_account_id(self.record.platform_id, self.pending.currency) if fee else None,
        )


@dataclass(frozen=True)
class CaptureSplit:
    """A capture's split: what the destination wallet got, and the platform's fee and its account."""

    destination_wallet_id: str | None
    destination_minor: int
    platform_fee_minor: int
    fee_account_id: str | None


def is_due(pending: HoldTransfer, now: datetime) -> bool:
    return pending.expires_at is not None and pending.expires_at <= now
