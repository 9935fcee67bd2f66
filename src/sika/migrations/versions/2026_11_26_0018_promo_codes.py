"""Promo codes: promo_codes and promo_redemptions (``sika.promos``).

Both belong to a platform; a redemption's platform is its code's and its
party's (composite foreign keys). A code is unique per platform whatever its
case (a unique index on ``lower(code)``); a redemption is unique per subject
and code. Nothing here moves money.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _codes() -> None:
    op.create_table(
        "promo_codes",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("percent_off_bps", sa.Integer(), nullable=True),
        sa.Column("amount_off_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("max_redemptions_per_party", sa.Integer(), nullable=True),
        sa.Column("plan_ids", ARRAY(sa.Text()), nullable=True),
        sa.Column("uses", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("char_length(code) BETWEEN 1 AND 64", name=op.f("ck_promo_codes_code_length")),
        sa.CheckConstraint(
            "(percent_off_bps IS NULL) <> (amount_off_minor IS NULL)", name=op.f("ck_promo_codes_one_discount")
        ),
        sa.CheckConstraint("percent_off_bps BETWEEN 1 AND 10000", name=op.f("ck_promo_codes_percent_range")),
        sa.CheckConstraint("amount_off_minor > 0", name=op.f("ck_promo_codes_amount_positive")),
        sa.CheckConstraint(
            "amount_off_minor IS NULL OR currency IS NOT NULL", name=op.f("ck_promo_codes_amount_has_currency")
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_promo_codes_currency_format")),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > starts_at", name=op.f("ck_promo_codes_expires_after_start")
        ),
        sa.CheckConstraint("max_redemptions > 0", name=op.f("ck_promo_codes_max_positive")),
        sa.CheckConstraint("max_redemptions_per_party > 0", name=op.f("ck_promo_codes_max_per_party_positive")),
        sa.CheckConstraint("uses >= 0", name=op.f("ck_promo_codes_uses_not_negative")),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name=op.f("ck_promo_codes_created_by_length")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_promo_codes_platform_id_platforms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("id", "platform_id", name="uq_promo_codes_id_platform_id"),
        sa.UniqueConstraint("seq", name=op.f("uq_promo_codes_seq")),
    )
    op.create_index("ix_promo_codes_platform", "promo_codes", ["platform_id", "seq"], unique=False)
    op.create_index("uq_promo_codes_platform_code", "promo_codes", ["platform_id", sa.text("lower(code)")], unique=True)


def _redemptions() -> None:
    op.create_table(
        "promo_redemptions",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("promo_code_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("amount_off_minor", sa.BigInteger(), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('reserved', 'confirmed', 'freed')", name=op.f("ck_promo_redemptions_state")),
        sa.CheckConstraint("amount_off_minor >= 0", name=op.f("ck_promo_redemptions_amount_not_negative")),
        sa.CheckConstraint(
            "char_length(subject_id) BETWEEN 1 AND 64", name=op.f("ck_promo_redemptions_subject_length")
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id", "platform_id"],
            ["promo_codes.id", "promo_codes.platform_id"],
            name="fk_promo_redemptions_code_platform",
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"], ["promo_codes.id"], name=op.f("fk_promo_redemptions_promo_code_id_promo_codes")
        ),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_promo_redemptions_party_platform",
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_promo_redemptions_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_promo_redemptions_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_redemptions")),
        sa.UniqueConstraint("subject_id", "promo_code_id", name="uq_promo_redemptions_subject_code"),
        sa.UniqueConstraint("seq", name=op.f("uq_promo_redemptions_seq")),
    )
    op.create_index("ix_promo_redemptions_code_party", "promo_redemptions", ["promo_code_id", "party_id"], unique=False)
    op.create_index("ix_promo_redemptions_platform", "promo_redemptions", ["platform_id", "seq"], unique=False)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    _codes()
    _redemptions()


def downgrade() -> None:
    op.drop_index("ix_promo_redemptions_platform", table_name="promo_redemptions")
    op.drop_index("ix_promo_redemptions_code_party", table_name="promo_redemptions")
    op.drop_table("promo_redemptions")
    op.drop_index("uq_promo_codes_platform_code", table_name="promo_codes")
    op.drop_index("ix_promo_codes_platform", table_name="promo_codes")
    op.drop_table("promo_codes")
