"""Promo codes and their redemptions.

``promo_codes.uses`` counts the code's redemptions that hold a use (``reserved``
or ``confirmed``); the promos' invariants (``sika.promos.invariants``) check
that it equals the rows and stays within the maximums."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

HOLDING_STATES = ("reserved", "confirmed")
"""The redemption states that hold one of the code's uses."""


class PromoCode(PlatformOwned, Base):
    __tablename__ = "promo_codes"
    __table_args__ = (
        sa.CheckConstraint("char_length(code) BETWEEN 1 AND 64", name="code_length"),
        sa.CheckConstraint("(percent_off_bps IS NULL) <> (amount_off_minor IS NULL)", name="one_discount"),
        sa.CheckConstraint("percent_off_bps BETWEEN 1 AND 10000", name="percent_range"),
        sa.CheckConstraint("amount_off_minor > 0", name="amount_positive"),
        sa.CheckConstraint("amount_off_minor IS NULL OR currency IS NOT NULL", name="amount_has_currency"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint("expires_at IS NULL OR expires_at > starts_at", name="expires_after_start"),
        sa.CheckConstraint("max_redemptions > 0", name="max_positive"),
        sa.CheckConstraint("max_redemptions_per_party > 0", name="max_per_party_positive"),
        sa.CheckConstraint("uses >= 0", name="uses_not_negative"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        sa.UniqueConstraint("id", "platform_id", name="uq_promo_codes_id_platform_id"),
        sa.Index("uq_promo_codes_platform_code", "platform_id", sa.text("lower(code)"), unique=True),
        sa.Index("ix_promo_codes_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``promo_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    code: Mapped[str] = mapped_column(sa.String(64))
    """As the platform wrote it; matched case-insensitively, unique per platform."""
    percent_off_bps: Mapped[int | None] = mapped_column(sa.Integer)
    """Basis points off the base (10,000 = all of it), or None for an amount off."""
    amount_off_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    """The only currency the code applies to (always set for an amount off)."""
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    active: Mapped[bool]
    max_redemptions: Mapped[int | None] = mapped_column(sa.Integer)
    """Uses in total (None: no limit)."""
    max_redemptions_per_party: Mapped[int | None] = mapped_column(sa.Integer)
    plan_ids: Mapped[list[str] | None] = mapped_column(ARRAY(sa.Text))
    """The plans the code is restricted to (None: any); plain ids, as promos knows no plans."""
    uses: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    """Redemptions reserved or confirmed."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]


class PromoRedemption(PlatformOwned, Base):
    __tablename__ = "promo_redemptions"
    __table_args__ = (
        sa.CheckConstraint("state IN ('reserved', 'confirmed', 'freed')", name="state"),
        sa.CheckConstraint("amount_off_minor >= 0", name="amount_not_negative"),
        sa.CheckConstraint("char_length(subject_id) BETWEEN 1 AND 64", name="subject_length"),
        sa.UniqueConstraint("subject_id", "promo_code_id", name="uq_promo_redemptions_subject_code"),
        sa.ForeignKeyConstraint(
            ["promo_code_id", "platform_id"],
            ["promo_codes.id", "promo_codes.platform_id"],
            name="fk_promo_redemptions_code_platform",
        ),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_promo_redemptions_party_platform",
        ),
        sa.Index("ix_promo_redemptions_code_party", "promo_code_id", "party_id"),
        sa.Index("ix_promo_redemptions_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``prd_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    promo_code_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("promo_codes.id"))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    """What the discount applies to (an instalment's id): one redemption per subject and code."""
    party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    state: Mapped[str] = mapped_column(sa.String(16))
    """``reserved`` → ``confirmed`` | ``freed``; a freed row may be reserved again."""
    amount_off_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reserved_at: Mapped[datetime]
    updated_at: Mapped[datetime]
