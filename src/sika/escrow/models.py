"""Escrows and their milestones.

An escrow holds a client's money for a beneficiary in a ledger account of its
own (managed: only this domain moves money on it), paid in by deposits from
the client's wallet and paid out milestone by milestone: released to the
beneficiary's wallet (less the platform's fee) or refunded to the client's.
The amounts on these rows say what the ledger should show; the escrow's
invariants (``sika.escrow.invariants``) check that it does.

States (``sika.escrow.states``): an escrow is ``awaiting_funding`` until its
deposits reach its amount, then ``funded``, and ends ``completed`` (every
milestone released), ``refunded`` (every milestone refunded),
``partially_refunded`` (some of each) or ``cancelled`` (before it was funded).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned
from sika.escrow.states import AutoPayout, EscrowStatus, MilestoneStatus
from sika.payments.models import OPERATORS

ESCROW_ACCOUNT_KIND = "escrow.held"
"""The kind of an escrow's ledger account (decision 0004: escrow's kinds start ``escrow``)."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Escrow(PlatformOwned, Base):
    __tablename__ = "escrows"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        sa.CheckConstraint("funded_minor BETWEEN 0 AND amount_minor", name="funded_within_amount"),
        sa.CheckConstraint("released_minor >= 0 AND refunded_minor >= 0", name="moved_not_negative"),
        sa.CheckConstraint("released_minor + refunded_minor <= funded_minor", name="moved_within_funded"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        sa.CheckConstraint(_in("status", tuple(s.value for s in EscrowStatus)), name="status"),
        sa.CheckConstraint("client_party_id <> beneficiary_party_id", name="two_parties"),
        sa.CheckConstraint("release_after_delivery_seconds >= 0", name="release_delay_not_negative"),
        sa.CheckConstraint("jsonb_typeof(metadata) = 'object'", name="metadata_object"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        sa.CheckConstraint("(payout_operator IS NULL) = (payout_phone IS NULL)", name="auto_payout_whole"),
        sa.CheckConstraint("payout_country IS NULL OR payout_operator IS NOT NULL", name="auto_payout_country"),
        sa.CheckConstraint(f"payout_operator IS NULL OR {_in('payout_operator', OPERATORS)}", name="payout_operator"),
        sa.CheckConstraint(r"payout_phone ~ '^\+[1-9][0-9]{6,14}$'", name="payout_phone_e164"),
        sa.CheckConstraint("payout_country ~ '^[A-Z]{2}$'", name="payout_country_alpha2"),
        sa.ForeignKeyConstraint(
            ["client_party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_escrows_client_platform"
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_escrows_beneficiary_platform",
        ),
        sa.ForeignKeyConstraint(
            ["client_wallet_id", "platform_id"], ["wallets.id", "wallets.platform_id"], name="fk_escrows_client_wallet"
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_escrows_beneficiary_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"], ["ledger_accounts.id", "ledger_accounts.currency"], name="fk_escrows_account"
        ),
        sa.UniqueConstraint("id", "platform_id", name="uq_escrows_id_platform_id"),
        sa.Index("ix_escrows_platform", "platform_id", "seq"),
        sa.Index("ix_escrows_client", "client_party_id", "seq"),
        sa.Index("ix_escrows_beneficiary", "beneficiary_party_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    """Creation order; the cursor for listing."""
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``esc_…``; the prefix of every ledger transfer id the escrow derives."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its client's platform (composite foreign keys say so, for both parties and both wallets)."""
    client_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """Who pays in, and gets refunds."""
    beneficiary_party_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("parties.id"))
    """Who is paid on release."""
    client_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    """The client's wallet in the escrow's currency: deposits come from it, refunds go to it."""
    beneficiary_wallet_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("wallets.id"))
    """The beneficiary's wallet in the escrow's currency: releases go to it."""
    account_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The escrow's own managed ledger account, which holds what was deposited and not yet paid out.
    Owned by the beneficiary (``owner_type`` ``party``): the party summary counts it as pending in escrow."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The sum of the milestones' amounts."""
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The platform's fee on the whole escrow, split over the milestones and taken as each is released."""
    funded_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Deposited so far (never more than the amount)."""
    released_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Paid out on release, fees included."""
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Given back to the client."""
    deposit_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    """How many deposits were made: the next deposit's transfer id is ``<id>.deposit.<count + 1>``."""
    status: Mapped[str] = mapped_column(sa.String(24))
    release_after_delivery_seconds: Mapped[int] = mapped_column(sa.Integer)
    """How long after delivery a milestone is released when the client says nothing."""
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=sa.text("'{}'::jsonb"))
    payout_operator: Mapped[str | None] = mapped_column(sa.String(16))
    """With ``payout_phone``, the ``auto_payout``: each release's net amount is paid out there."""
    payout_phone: Mapped[str | None] = mapped_column(sa.String(16))
    """E.164: the one given, or the beneficiary's phone when the escrow was created."""
    payout_country: Mapped[str | None] = mapped_column(sa.String(2))
    """Where that mobile money lives; the beneficiary's country when None."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    """The actor that created it: ``key:<id>``."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    """When it reached a final state."""


class EscrowMilestone(PlatformOwned, Base):
    __tablename__ = "escrow_milestones"
    __table_args__ = (
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        sa.CheckConstraint("released_minor >= 0 AND refunded_minor >= 0", name="moved_not_negative"),
        sa.CheckConstraint("released_minor + refunded_minor <= amount_minor", name="moved_within_amount"),
        sa.CheckConstraint("fee_paid_minor BETWEEN 0 AND released_minor", name="fee_within_released"),
        sa.CheckConstraint(_in("status", tuple(s.value for s in MilestoneStatus)), name="status"),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        sa.CheckConstraint("char_length(dispute_reason) BETWEEN 1 AND 1000", name="dispute_reason_length"),
        sa.CheckConstraint("char_length(resolution_note) BETWEEN 1 AND 1000", name="resolution_note_length"),
        sa.CheckConstraint("char_length(resolved_by) BETWEEN 1 AND 100", name="resolved_by_length"),
        sa.CheckConstraint(
            f"(status = '{MilestoneStatus.delivered.value}') = (release_at IS NOT NULL)",
            name="release_at_iff_delivered",
        ),
        sa.CheckConstraint(
            f"payout_state IS NULL OR {_in('payout_state', tuple(s.value for s in AutoPayout))}", name="payout_state"
        ),
        sa.CheckConstraint(
            f"(payout_state IS NOT DISTINCT FROM '{AutoPayout.started.value}') = (payout_id IS NOT NULL)",
            name="payout_id_iff_started",
        ),
        sa.ForeignKeyConstraint(
            ["escrow_id", "platform_id"], ["escrows.id", "escrows.platform_id"], name="fk_escrow_milestones_escrow"
        ),
        # What the minute job looks for: delivered milestones by release time, pending ones by deadline.
        sa.Index(
            "ix_escrow_milestones_release_due",
            "release_at",
            postgresql_where=sa.text(f"status = '{MilestoneStatus.delivered.value}'"),
        ),
        sa.Index(
            "ix_escrow_milestones_deadline",
            "deliver_by",
            postgresql_where=sa.text(f"status = '{MilestoneStatus.pending.value}' AND deliver_by IS NOT NULL"),
        ),
    )

    escrow_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("escrows.id"), primary_key=True)
    number: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    """1, 2, …, in the order they were given."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its escrow's platform."""
    title: Mapped[str] = mapped_column(sa.Text)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """Its share of the escrow's fee, taken on a full release (in proportion on a partial one)."""
    status: Mapped[str] = mapped_column(sa.String(16))
    deliver_by: Mapped[datetime | None]
    """Still pending at this instant: refunded to the client."""
    delivered_at: Mapped[datetime | None]
    release_at: Mapped[datetime | None]
    """While delivered: when it is released unless the client approves or disputes first."""
    disputed_at: Mapped[datetime | None]
    dispute_reason: Mapped[str | None] = mapped_column(sa.Text)
    released_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Paid out of the escrow on release, its fee included."""
    fee_paid_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    """Of ``released_minor``, what went to the platform's fee account."""
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    resolution_note: Mapped[str | None] = mapped_column(sa.Text)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))
    """The operator that resolved its dispute: ``key:<id>``."""
    completed_at: Mapped[datetime | None]
    """When it was released or refunded."""
    payout_state: Mapped[str | None] = mapped_column(sa.String(16))
    """Its auto-payout (``sika.escrow.states.AutoPayout``): None when nothing is paid out
    automatically (no ``auto_payout``, or nothing released net of the fee)."""
    payout_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("payments_payouts.id"), unique=True)
    """The payout its release started (``po_…``)."""

    proof_required: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    """Delivered, it is not released when the client stays silent until a proof of delivery
    is approved (``sika.escrow.service.proven``; the rule is ``sika.proofs``')."""


class EscrowCollection(PlatformOwned, Base):
    """A collection started to fund an escrow (``POST /v1/escrows/{id}/fund`` with a method):
    when it succeeds, its credit to the client's wallet is deposited into the escrow in the
    same transaction (``sika.escrow.service.collected``)."""

    __tablename__ = "escrow_collections"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.ForeignKeyConstraint(
            ["escrow_id", "platform_id"], ["escrows.id", "escrows.platform_id"], name="fk_escrow_collections_escrow"
        ),
        sa.Index("ix_escrow_collections_escrow", "escrow_id"),
    )

    collection_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("payments_collections.id"), primary_key=True
    )
    escrow_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("escrows.id"))
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its escrow's platform."""
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """The deposit it makes: the collection's amount."""
    created_at: Mapped[datetime]
