"""Transfers between parties. The row says what the ledger shows: its first
leg (the transfer's id) paid ``amount_minor - fee_minor`` into the
recipient's wallet, its fee leg (``<id>.fee``) the platform's fee; the
transfers' invariants (``sika.transfers.invariants``) check that it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

TRANSFER_CODE = "transfer.p2p"
"""The ledger code of a transfer's first leg."""


def _fk(columns: list[str], target: list[str], name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(columns, target, name=name)


class Transfer(PlatformOwned, Base):
    __tablename__ = "transfers"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor >= 0 AND fee_minor < amount_minor", name="fee_below_amount"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint("sender_party_id <> recipient_party_id", name="two_parties"),
        sa.CheckConstraint("status IN ('succeeded')", name="status"),
        sa.CheckConstraint("jsonb_typeof(metadata) = 'object'", name="metadata_object"),
        sa.CheckConstraint("char_length(reference) BETWEEN 1 AND 200", name="reference_length"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        _fk(["sender_party_id", "platform_id"], ["parties.id", "parties.platform_id"], "fk_transfers_sender_platform"),
        _fk(
            ["recipient_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            "fk_transfers_recipient_platform",
        ),
        _fk(["sender_wallet_id", "platform_id"], ["wallets.id", "wallets.platform_id"], "fk_transfers_sender_wallet"),
        _fk(
            ["recipient_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            "fk_transfers_recipient_wallet",
        ),
        sa.Index("ix_transfers_platform", "platform_id", "seq"),
        sa.Index("ix_transfers_sender", "sender_party_id", "seq"),
        sa.Index("ix_transfers_recipient", "recipient_party_id", "seq"),
        sa.Index("ix_transfers_sender_wallet", "sender_wallet_id", "seq"),
        sa.Index("ix_transfers_recipient_wallet", "recipient_wallet_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``trf_…``; also the id of its ledger transfer to the recipient."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    sender_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    recipient_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    sender_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    recipient_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """What left the sender's wallet."""
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The platform's part; the recipient got ``amount_minor - fee_minor``."""
    status: Mapped[str] = mapped_column(sa.String(16))
    """``succeeded``: a transfer is written only when its money moved."""
    reference: Mapped[str | None] = mapped_column(sa.Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=sa.text("'{}'::jsonb"))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
