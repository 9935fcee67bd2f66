"""Escrow money in and out: an escrow's ``auto_payout`` (the mobile money each
release is paid out to); per milestone, where its auto-payout stands and the
payout it started; and escrow_collections, the collections started to fund an
escrow, of its platform (``sika.escrow``). Nothing here moves money.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("escrows", sa.Column("payout_operator", sa.String(length=16), nullable=True))
    op.add_column("escrows", sa.Column("payout_phone", sa.String(length=16), nullable=True))
    op.add_column("escrows", sa.Column("payout_country", sa.String(length=2), nullable=True))
    op.create_check_constraint(
        op.f("ck_escrows_auto_payout_whole"), "escrows", "(payout_operator IS NULL) = (payout_phone IS NULL)"
    )
    op.create_check_constraint(
        op.f("ck_escrows_auto_payout_country"), "escrows", "payout_country IS NULL OR payout_operator IS NOT NULL"
    )
    op.create_check_constraint(
        op.f("ck_escrows_payout_operator"),
        "escrows",
        "payout_operator IS NULL OR payout_operator IN ('orange', 'mtn', 'moov', 'wave')",
    )
    op.create_check_constraint(
        op.f("ck_escrows_payout_phone_e164"), "escrows", r"payout_phone ~ '^\+[1-9][0-9]{6,14}$'"
    )
    op.create_check_constraint(op.f("ck_escrows_payout_country_alpha2"), "escrows", "payout_country ~ '^[A-Z]{2}$'")
    op.add_column("escrow_milestones", sa.Column("payout_state", sa.String(length=16), nullable=True))
    op.add_column("escrow_milestones", sa.Column("payout_id", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_escrow_milestones_payout_state"),
        "escrow_milestones",
        "payout_state IS NULL OR payout_state IN ('due', 'started', 'refused')",
    )
    op.create_check_constraint(
        op.f("ck_escrow_milestones_payout_id_iff_started"),
        "escrow_milestones",
        "(payout_state IS NOT DISTINCT FROM 'started') = (payout_id IS NOT NULL)",
    )
    op.create_foreign_key(
        op.f("fk_escrow_milestones_payout_id_payments_payouts"),
        "escrow_milestones",
        "payments_payouts",
        ["payout_id"],
        ["id"],
    )
    op.create_unique_constraint(op.f("uq_escrow_milestones_payout_id"), "escrow_milestones", ["payout_id"])

    op.create_table(
        "escrow_collections",
        sa.Column("collection_id", sa.String(length=64), nullable=False),
        sa.Column("escrow_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_escrow_collections_amount_positive")),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["payments_collections.id"],
            name=op.f("fk_escrow_collections_collection_id_payments_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["escrow_id", "platform_id"], ["escrows.id", "escrows.platform_id"], name="fk_escrow_collections_escrow"
        ),
        sa.ForeignKeyConstraint(["escrow_id"], ["escrows.id"], name=op.f("fk_escrow_collections_escrow_id_escrows")),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_escrow_collections_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_escrow_collections")),
    )
    op.create_index("ix_escrow_collections_escrow", "escrow_collections", ["escrow_id"], unique=False)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_escrow_collections_escrow", table_name="escrow_collections")
    op.drop_table("escrow_collections")
    op.drop_constraint(op.f("uq_escrow_milestones_payout_id"), "escrow_milestones", type_="unique")
    op.drop_constraint(op.f("fk_escrow_milestones_payout_id_payments_payouts"), "escrow_milestones", type_="foreignkey")
    op.drop_constraint(op.f("ck_escrow_milestones_payout_id_iff_started"), "escrow_milestones", type_="check")
    op.drop_constraint(op.f("ck_escrow_milestones_payout_state"), "escrow_milestones", type_="check")
    op.drop_column("escrow_milestones", "payout_id")
    op.drop_column("escrow_milestones", "payout_state")
    for name in (
        "payout_country_alpha2",
        "payout_phone_e164",
        "payout_operator",
        "auto_payout_country",
        "auto_payout_whole",
    ):
        op.drop_constraint(op.f(f"ck_escrows_{name}"), "escrows", type_="check")
    op.drop_column("escrows", "payout_country")
    op.drop_column("escrows", "payout_phone")
    op.drop_column("escrows", "payout_operator")
