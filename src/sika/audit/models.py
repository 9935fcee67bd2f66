from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned


class AuditEvent(PlatformOwned, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),
        sa.Index("ix_audit_events_actor", "actor", "seq"),
        sa.Index("ix_audit_events_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    """Insertion order; the cursor for pagination."""
    actor: Mapped[str] = mapped_column(sa.String(100))
    """Who did it: ``key:<id>``, ``party:<id>``, ``system:<job>`` or ``cli``."""
    action: Mapped[str] = mapped_column(sa.String(100))
    entity_type: Mapped[str] = mapped_column(sa.String(50))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(sa.String(100))
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform whose object changed; null for the installation's own (global keys, system checks)."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
