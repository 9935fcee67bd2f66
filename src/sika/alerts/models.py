from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base, TimestampMixin
from sika.core.tenancy import PlatformOwned


class Alert(PlatformOwned, TimestampMixin, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        sa.Index("ix_alerts_open", "acknowledged_at", "seq"),
        sa.Index("ix_alerts_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    """What happened, e.g. ``ledger.invariant_breached`` or ``webhook.amount_mismatch``."""
    severity: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.Text)
    entity_type: Mapped[str | None] = mapped_column(sa.String(50))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform whose object the alert is about; null for the installation's own (invariants, providers)."""
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(100))


class AlertNotice(PlatformOwned, Base):
    """A message sent to the operators' channels (webhook, email, Sentry), or held back
    because one of its kind went out within ``ALERT_NOTIFY_EVERY_SECONDS``."""

    __tablename__ = "alert_notices"
    __table_args__ = (
        sa.CheckConstraint("char_length(key) BETWEEN 1 AND 200", name="key_length"),
        sa.Index("ix_alert_notices_key", "key", "sent_at"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``ntc_…``; the ``webhook-id`` of the operators' webhook."""
    key: Mapped[str] = mapped_column(sa.String(200))
    """What is told: ``alert:<kind>``, ``jobs.backlog``, ``worker.stale``; at most one sent per period."""
    alert_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("alerts.id"), unique=True)
    """The critical alert told (or held back), so that it is considered once."""
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    sent: Mapped[bool]
    """False when held back: one of its kind had gone out within the period."""
    sent_at: Mapped[datetime]
