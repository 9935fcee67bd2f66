"""Inbound provider webhooks, stored raw before anything else happens.

A row is written in the same transaction as the job that will process it,
under a unique (provider, event id): a provider's retry, or the same event
delivered ten times at once, finds the row already there and changes
nothing. The raw body stays exactly as received, so any event can be read
again, reprocessed, or shown to the provider's support.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned

EVENT_STATUSES = ("received", "processed", "ignored", "unmatched", "rejected", "failed")


class InboundEvent(PlatformOwned, Base):
    __tablename__ = "webhooks_inbound_events"
    __table_args__ = (
        sa.UniqueConstraint("provider", "event_id", name="uq_webhooks_inbound_events_provider_event"),
        sa.CheckConstraint("provider IN ('paystack', 'fedapay', 'stripe')", name="provider"),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'ignored', 'unmatched', 'rejected', 'failed')", name="status"
        ),
        sa.CheckConstraint("subject IS NULL OR subject IN ('collection', 'payout')", name="subject"),
        sa.CheckConstraint("char_length(event_id) BETWEEN 1 AND 200", name="event_id_length"),
        sa.CheckConstraint("char_length(event_type) BETWEEN 1 AND 100", name="event_type_length"),
        sa.CheckConstraint("octet_length(body) <= 1048576", name="body_size"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("char_length(last_error) <= 2000", name="last_error_length"),
        sa.CheckConstraint("(status = 'received') = (processed_at IS NULL)", name="processed_iff_done"),
        sa.Index("ix_webhooks_inbound_events_status", "status", "seq"),
        sa.Index("ix_webhooks_inbound_events_reference", "reference"),
        sa.Index("ix_webhooks_inbound_events_platform", "platform_id", "seq"),
        # Search by the provider's event id alone (the unique constraint leads with the provider).
        sa.Index("ix_webhooks_inbound_events_event_id", "event_id"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Arrival order; the cursor for listing."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``whe_…``."""
    provider: Mapped[str] = mapped_column(sa.String(16))
    event_id: Mapped[str] = mapped_column(sa.String(200))
    """The provider's id for the event, or one derived from its content (Paystack sends none)."""
    event_type: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    """The body exactly as received, whose signature was verified."""
    status: Mapped[str] = mapped_column(sa.String(16))
    """``received`` (waiting for its job), ``processed``, ``ignored`` (an event Sika does not act
    on), ``unmatched`` (names no collection or payout: alerted), ``rejected`` (signed but
    unreadable: alerted) or ``failed`` (every attempt failed: alerted)."""
    subject: Mapped[str | None] = mapped_column(sa.String(16))
    """``collection`` or ``payout``."""
    reference: Mapped[str | None] = mapped_column(sa.String(200))
    """Sika's id of the collection or payout it is about, as the provider stated it."""
    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """The platform of the collection or payout it matched; null until it matches one."""
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    """What processing did: ``changed``, ``unchanged`` (a duplicate or a stale event),
    ``disagreement`` or ``mismatch`` (both alerted)."""
    attempts: Mapped[int] = mapped_column(server_default="0")
    """Processing attempts that failed."""
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
