from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base, TimestampMixin
from sika.core.tenancy import PlatformOwned

PARTY_TYPES = ("individual", "business")
PARTY_STATUSES = ("active", "suspended")


class Party(PlatformOwned, TimestampMixin, Base):
    """A person or business whose money Sika holds."""

    __tablename__ = "parties"
    __table_args__ = (
        sa.CheckConstraint("char_length(display_name) BETWEEN 1 AND 200", name="display_name_length"),
        sa.CheckConstraint("type IN ('individual', 'business')", name="type"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="status"),
        sa.CheckConstraint("char_length(email) BETWEEN 3 AND 254", name="email_length"),
        sa.CheckConstraint(r"phone ~ '^\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        # For composite foreign keys: a party's wallets, collections and payouts share its platform.
        sa.UniqueConstraint("id", "platform_id", name="uq_parties_id_platform_id"),
        sa.Index("ix_parties_platform", "platform_id", "seq"),
        # Operator search (docs/support.md): a whole phone, its last digits as a prefix of the
        # reversed number, an email in any case. Migration 0012 builds them.
        sa.Index("ix_parties_phone", "phone", postgresql_where=sa.text("phone IS NOT NULL")),
        sa.Index(
            "ix_parties_phone_reversed",
            sa.func.reverse(sa.literal_column("phone")).label("phone_reversed"),
            postgresql_ops={"phone_reversed": "text_pattern_ops"},
            postgresql_where=sa.text("phone IS NOT NULL"),
        ),
        sa.Index("ix_parties_email", sa.text("lower(email)"), postgresql_where=sa.text("email IS NOT NULL")),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Insertion order; the cursor for pagination."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform that owns it (``sika.core.tenancy``)."""
    display_name: Mapped[str] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.String(16))
    """``individual`` or ``business``."""
    email: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.String(16))
    """E.164, e.g. ``+22997000000``."""
    country: Mapped[str] = mapped_column(sa.String(2))
    """ISO 3166-1 alpha-2, upper case."""
    status: Mapped[str] = mapped_column(sa.String(16), server_default="active")
    """``active``, or ``suspended``: a suspended party's wallets cannot be debited."""
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    """When the profile or status last changed."""
    tokens_revoked_before: Mapped[datetime | None]
    """Party tokens issued before this instant are refused (``POST …/tokens/revoke``)."""
