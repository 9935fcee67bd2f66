"""A platform's webhook endpoints and the deliveries of events to them.

An endpoint reads the events of its platform from a cursor (``fanned_out_seq``):
each event of a type it subscribes to becomes one delivery, sent (and retried)
until a 2xx answer or the end of the schedule. Its signing secret is stored
encrypted under a key from the settings (``OUTBOUND_SECRETS_KEY``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned


class DeliveryStatus(StrEnum):
    pending = "pending"
    """Waiting for its next attempt (or for an earlier event of its object)."""
    succeeded = "succeeded"
    failed = "failed"
    """Every attempt of the schedule failed."""


class Endpoint(PlatformOwned, Base):
    __tablename__ = "outbound_endpoints"
    __table_args__ = (
        sa.CheckConstraint("char_length(url) BETWEEN 1 AND 2000", name="url_length"),
        sa.CheckConstraint("char_length(description) <= 500", name="description_length"),
        sa.CheckConstraint("jsonb_typeof(event_types) = 'array'", name="event_types_array"),
        sa.CheckConstraint("char_length(disabled_reason) BETWEEN 1 AND 200", name="disabled_reason_length"),
        sa.UniqueConstraint("id", "platform_id", name="uq_outbound_endpoints_id_platform_id"),
        sa.Index("ix_outbound_endpoints_platform", "platform_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order; the cursor for listing."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``we_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    url: Mapped[str] = mapped_column(sa.Text)
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    """Event types delivered: exact (``payout.failed``), by noun (``escrow.*``) or all (``*``)."""
    description: Mapped[str] = mapped_column(sa.Text, server_default="")
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    """Why Sika disabled it (its deliveries failed for too long); null when a platform did."""
    secret_sealed: Mapped[str] = mapped_column(sa.Text)
    """The ``whsec_…`` signing secret, encrypted (``sika.outbound.sealed``)."""
    previous_secret_sealed: Mapped[str | None] = mapped_column(sa.Text)
    """The secret before the last rotation, which still signs until ``previous_secret_expires_at``."""
    previous_secret_expires_at: Mapped[datetime | None]
    fanned_out_seq: Mapped[int] = mapped_column(sa.BigInteger)
    """Every event up to this ``seq`` has its delivery (events before the endpoint existed excepted)."""
    horizon_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    """An event ``seq`` taken while transactions may still have held lower ones…"""
    horizon_xid: Mapped[int | None] = mapped_column(sa.BigInteger)
    """…and the first transaction id not yet started then: once every transaction before it has
    ended, no event up to ``horizon_seq`` can still appear, and the cursor may pass it."""
    failing_since: Mapped[datetime | None]
    """The first failed attempt since the last success; null while deliveries succeed."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(PlatformOwned, Base):
    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        sa.CheckConstraint("status IN (" + ", ".join(repr(s.value) for s in DeliveryStatus) + ")", name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("char_length(last_error) <= 500", name="last_error_length"),
        sa.CheckConstraint("char_length(last_response) <= 1000", name="last_response_length"),
        sa.ForeignKeyConstraint(
            ["endpoint_id", "platform_id"],
            ["outbound_endpoints.id", "outbound_endpoints.platform_id"],
            name="fk_outbound_deliveries_endpoint_platform",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_outbound_deliveries_endpoint_event"),
        sa.Index("ix_outbound_deliveries_endpoint", "endpoint_id", "seq"),
        sa.Index("ix_outbound_deliveries_platform", "platform_id", "seq"),
        sa.Index("ix_outbound_deliveries_entity", "entity_id", "seq"),
        sa.Index(
            "ix_outbound_deliveries_object",
            "endpoint_id",
            "entity_id",
            "event_seq",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_outbound_deliveries_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``whd_…``."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    endpoint_id: Mapped[str] = mapped_column(sa.String(64))
    event_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("events.id"))
    """The event delivered; its id is the ``webhook-id`` of every attempt and replay."""
    event_seq: Mapped[int] = mapped_column(sa.BigInteger)
    """The event's ``seq``: the order in which one object's events reach the endpoint."""
    event_type: Mapped[str] = mapped_column(sa.String(100))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    """The object the event is about: its events are delivered one after another."""
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    """Attempts in the current round (a retry or a replay starts a new round)."""
    next_attempt_at: Mapped[datetime | None]
    leased_until: Mapped[datetime | None]
    """While an attempt is on the wire: no other worker takes it before this (then it is
    presumed lost with its worker, and made again with the same ``webhook-id``)."""
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_latency_ms: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    """Why the last attempt failed without an answer (timeout, refused address…)."""
    last_response: Mapped[str | None] = mapped_column(sa.Text)
    """The start of the last answer's body."""
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
