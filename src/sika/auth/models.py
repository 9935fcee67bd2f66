from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base, TimestampMixin
from sika.core.tenancy import PlatformOwned


class ApiKey(PlatformOwned, TimestampMixin, Base):
    __tablename__ = "auth_api_keys"
    __table_args__ = (
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        sa.CheckConstraint("cardinality(scopes) >= 1", name="has_scopes"),
        sa.CheckConstraint("platform_id IS NOT NULL OR NOT ('platform' = ANY(scopes))", name="platform_key_bound"),
        sa.Index("ix_auth_api_keys_platform", "platform_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    lookup_prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    """The public part of the key, used to find the row before checking the hash."""
    secret_hash: Mapped[str] = mapped_column(sa.String(128))
    """HMAC-SHA256 of the whole key; the key itself is never stored."""
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(32)))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform the key acts for; null for an operator of the whole installation (never for a ``platform`` key)."""
