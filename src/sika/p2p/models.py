"""The P2P rules' tables: allowlists, certifications (every change kept), the
running totals the limits are checked against, and each admitted movement
(what the fraud rules read)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

MOVEMENT_KINDS = ("transfer", "capture")


def _party_fk(column: str, name: str) -> sa.ForeignKeyConstraint:
    """A composite key holding the party on the row's platform."""
    return sa.ForeignKeyConstraint([column, "platform_id"], ["parties.id", "parties.platform_id"], name=name)


class AllowlistEntry(PlatformOwned, Base):
    """A recipient a party may send to when its platform's policy is ``allowlist``."""

    __tablename__ = "p2p_allowlist"
    __table_args__ = (
        sa.CheckConstraint("party_id <> recipient_party_id", name="two_parties"),
        sa.CheckConstraint("char_length(added_by) BETWEEN 1 AND 100", name="added_by_length"),
        _party_fk("party_id", "fk_p2p_allowlist_party_platform"),
        _party_fk("recipient_party_id", "fk_p2p_allowlist_recipient_platform"),
        sa.UniqueConstraint("party_id", "recipient_party_id", name="uq_p2p_allowlist_pair"),
        sa.Index("ix_p2p_allowlist_party", "party_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    recipient_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    added_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]


class Certification(PlatformOwned, Base):
    """One certification decision; a party's level is its newest one's (0 without any)."""

    __tablename__ = "p2p_certifications"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 0 AND 9", name="level_range"),
        sa.CheckConstraint("char_length(reason) BETWEEN 1 AND 500", name="reason_length"),
        sa.CheckConstraint("char_length(certified_by) BETWEEN 1 AND 100", name="certified_by_length"),
        _party_fk("party_id", "fk_p2p_certifications_party_platform"),
        sa.Index("ix_p2p_certifications_party", "party_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``cert_…``"""
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    previous_level: Mapped[int] = mapped_column(sa.SmallInteger)
    reason: Mapped[str] = mapped_column(sa.Text)
    certified_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]


class Usage(PlatformOwned, Base):
    """What a sender has sent to other parties on one day (the platform's) in one currency."""

    __tablename__ = "p2p_usage"
    __table_args__ = (
        sa.CheckConstraint("total_minor >= 0 AND movements >= 0", name="not_negative"),
        _party_fk("party_id", "fk_p2p_usage_party_platform"),
    )

    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    movements: Mapped[int] = mapped_column(sa.Integer)


class Movement(PlatformOwned, Base):
    """Money admitted from one party to another: a transfer, or a hold's capture to another party's wallet."""

    __tablename__ = "p2p_movements"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("kind IN ('transfer', 'capture')", name="kind"),
        sa.CheckConstraint("sender_party_id <> recipient_party_id", name="two_parties"),
        _party_fk("sender_party_id", "fk_p2p_movements_sender_platform"),
        _party_fk("recipient_party_id", "fk_p2p_movements_recipient_platform"),
        sa.Index("ix_p2p_movements_sender", "sender_party_id", "created_at"),
        sa.Index("ix_p2p_movements_recipient", "recipient_party_id", "created_at"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """The transfer's id (``trf_…``) or the captured hold's (``hold_…``)."""
    kind: Mapped[str] = mapped_column(sa.String(16))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    sender_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    recipient_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime]
