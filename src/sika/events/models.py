"""Domain events: what happened to a collection, a payout (and later an escrow),
written in the same transaction as the change they announce (a transactional
outbox, the money rules in docs/architecture.md), in the order they happened, ready to be sent to
platforms as signed outgoing webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned


class Event(PlatformOwned, Base):
    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint(r"type ~ '^[a-z][a-z_]*\.[a-z][a-z_]*$'", name="type_format"),
        sa.CheckConstraint("char_length(entity_type) BETWEEN 1 AND 50", name="entity_type_length"),
        sa.CheckConstraint("octet_length(data::text) <= 16384", name="data_size"),
        sa.Index("ix_events_entity", "entity_type", "entity_id", "seq"),
        sa.Index("ix_events_type", "type", "seq"),
        sa.Index("ix_events_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Commit-independent insertion order; the cursor for readers and for delivery."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``evt_…``."""
    type: Mapped[str] = mapped_column(sa.String(100))
    """``<noun>.<past_tense>``: ``collection.succeeded``, ``payout.failed``…"""
    entity_type: Mapped[str] = mapped_column(sa.String(50))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    party_id: Mapped[str | None] = mapped_column(sa.String(64))
    """The party the event concerns, when there is one."""
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform the event concerns; null for the installation's own."""
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The entity as the API shows it, right after the change."""
    occurred_at: Mapped[datetime]
    """The ``now`` of the change."""
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
