"""Proof rules and proofs of delivery.

A milestone of an escrow may declare a proof rule (``proof_rules``): whether a
proof is required before it is released, a geofence (a point and a radius in
metres), how old a photo may be at delivery, and whether a proof that passes
every check releases the milestone on its own. Each photo sent for a milestone
is one proof (``proofs``): its bytes' sha256 (unique within the platform, so a
photo proves one delivery only), what its EXIF says, the result of each check,
and its state: ``approved``, ``pending_review`` (an operator decides) or
``rejected``. The file itself is stored by its sha256 (``sika.proofs.service.storage``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sika.core.db import Base
from sika.core.tenancy import PlatformOwned
from sika.proofs.states import ProofStatus

CONTENT_TYPES = ("image/jpeg", "image/png", "image/heic")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ProofRule(PlatformOwned, Base):
    __tablename__ = "proof_rules"
    __table_args__ = (
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        sa.CheckConstraint("radius_m > 0", name="radius_positive"),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL) = (radius_m IS NULL)",
            name="geofence_whole",
        ),
        sa.CheckConstraint("max_age_seconds > 0", name="max_age_positive"),
        sa.CheckConstraint("NOT auto_approve OR latitude IS NOT NULL", name="auto_approve_needs_geofence"),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name="created_by_length"),
        sa.ForeignKeyConstraint(
            ["escrow_id", "platform_id"], ["escrows.id", "escrows.platform_id"], name="fk_proof_rules_escrow"
        ),
        sa.ForeignKeyConstraint(
            ["escrow_id", "number"],
            ["escrow_milestones.escrow_id", "escrow_milestones.number"],
            name="fk_proof_rules_milestone",
        ),
    )

    escrow_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    number: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    """The milestone's number in its escrow."""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    """Its escrow's platform."""
    required: Mapped[bool]
    """No release when the client stays silent until a proof is approved (the client may still approve)."""
    latitude: Mapped[float | None] = mapped_column(sa.Double)
    longitude: Mapped[float | None] = mapped_column(sa.Double)
    radius_m: Mapped[int | None] = mapped_column(sa.Integer)
    """The geofence: a photo taken farther than this from the point fails its place check."""
    max_age_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    """A photo taken longer than this before delivery fails its time check."""
    auto_approve: Mapped[bool]
    """A proof that passes every check is approved, and the milestone released, on its own."""
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Proof(PlatformOwned, Base):
    __tablename__ = "proofs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", tuple(s.value for s in ProofStatus)), name="status"),
        sa.CheckConstraint(_in("content_type", CONTENT_TYPES), name="content_type"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),
        sa.CheckConstraint("size_bytes > 0 AND width > 0 AND height > 0", name="sizes_positive"),
        sa.CheckConstraint("char_length(filename) <= 255", name="filename_length"),
        sa.CheckConstraint("jsonb_typeof(checks) = 'array'", name="checks_array"),
        sa.CheckConstraint("jsonb_typeof(reasons) = 'array'", name="reasons_array"),
        sa.CheckConstraint("jsonb_typeof(exif) = 'object'", name="exif_object"),
        sa.CheckConstraint("char_length(decision_reason) BETWEEN 1 AND 1000", name="decision_reason_length"),
        sa.CheckConstraint(
            f"(status = '{ProofStatus.pending_review.value}') = (decided_at IS NULL)", name="decided_iff_not_pending"
        ),
        sa.CheckConstraint(f"NOT released OR status = '{ProofStatus.approved.value}'", name="released_if_approved"),
        sa.ForeignKeyConstraint(
            ["escrow_id", "platform_id"], ["escrows.id", "escrows.platform_id"], name="fk_proofs_escrow"
        ),
        sa.ForeignKeyConstraint(
            ["escrow_id", "milestone_number"],
            ["escrow_milestones.escrow_id", "escrow_milestones.number"],
            name="fk_proofs_milestone",
        ),
        # The same photo proves one delivery: a second one anywhere on the platform is refused.
        sa.UniqueConstraint("platform_id", "sha256", name="uq_proofs_platform_sha256"),
        sa.Index("ix_proofs_milestone", "escrow_id", "milestone_number", "seq"),
        sa.Index(
            "ix_proofs_pending",
            "seq",
            postgresql_where=sa.text(f"status = '{ProofStatus.pending_review.value}'"),
        ),
        # A milestone is released by one proof at most.
        sa.Index(
            "uq_proofs_released_once",
            "escrow_id",
            "milestone_number",
            unique=True,
            postgresql_where=sa.text("released"),
        ),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """``prf_…``"""
    platform_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))
    escrow_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("escrows.id"))
    milestone_number: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    """Of the file's bytes: the file's name in the store, and what makes a photo usable once."""
    content_type: Mapped[str] = mapped_column(sa.String(32))
    """Read from the bytes, never from the name or the header the client sent."""
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    filename: Mapped[str] = mapped_column(sa.Text)
    """As the client named it (for people only; never used to read or store the file)."""
    status: Mapped[str] = mapped_column(sa.String(16))
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """Each check with its result: ``{"check", "passed", "detail"}``."""
    reasons: Mapped[list[str]] = mapped_column(JSONB)
    """Why it waits for an operator (the failed checks' codes), empty when approved on its own."""
    exif: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """What was read from the photo's EXIF (camera, time, GPS): shown only to those who may download it."""
    taken_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(sa.Double)
    longitude: Mapped[float | None] = mapped_column(sa.Double)
    distance_m: Mapped[float | None] = mapped_column(sa.Double)
    """From the photo's GPS position to the geofence's centre (haversine)."""
    released: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    """Its approval released the milestone."""
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    """Who approved or rejected it: an operator's ``key:<id>``, or the proof's own checks (``system:proofs``)."""
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
