"""Transfers between parties and the platform's P2P rules: transfers
(``sika.transfers``); p2p_allowlist, p2p_certifications, p2p_usage and
p2p_movements (``sika.p2p``).

Every table belongs to a platform, and composite foreign keys keep each
party and wallet a row names on that platform. Nothing here moves money: a
transfer's money is a ledger journal entry written by wallets.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "p2p_allowlist",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_party_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("char_length(added_by) BETWEEN 1 AND 100", name=op.f("ck_p2p_allowlist_added_by_length")),
        sa.CheckConstraint("party_id <> recipient_party_id", name=op.f("ck_p2p_allowlist_two_parties")),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_p2p_allowlist_party_platform"
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_p2p_allowlist_party_id_parties")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_p2p_allowlist_platform_id_platforms")),
        sa.ForeignKeyConstraint(
            ["recipient_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_p2p_allowlist_recipient_platform",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_party_id"], ["parties.id"], name=op.f("fk_p2p_allowlist_recipient_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_p2p_allowlist")),
        sa.UniqueConstraint("party_id", "recipient_party_id", name="uq_p2p_allowlist_pair"),
    )
    op.create_index("ix_p2p_allowlist_party", "p2p_allowlist", ["party_id", "seq"], unique=False)
    op.create_table(
        "p2p_certifications",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("previous_level", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("certified_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "char_length(certified_by) BETWEEN 1 AND 100", name=op.f("ck_p2p_certifications_certified_by_length")
        ),
        sa.CheckConstraint("char_length(reason) BETWEEN 1 AND 500", name=op.f("ck_p2p_certifications_reason_length")),
        sa.CheckConstraint("level BETWEEN 0 AND 9", name=op.f("ck_p2p_certifications_level_range")),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_p2p_certifications_party_platform",
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_p2p_certifications_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_p2p_certifications_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_p2p_certifications")),
        sa.UniqueConstraint("seq", name=op.f("uq_p2p_certifications_seq")),
    )
    op.create_index("ix_p2p_certifications_party", "p2p_certifications", ["party_id", "seq"], unique=False)
    op.create_table(
        "p2p_movements",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("sender_party_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_party_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('transfer', 'capture')", name=op.f("ck_p2p_movements_kind")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_p2p_movements_amount_positive")),
        sa.CheckConstraint("sender_party_id <> recipient_party_id", name=op.f("ck_p2p_movements_two_parties")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_p2p_movements_platform_id_platforms")),
        sa.ForeignKeyConstraint(
            ["recipient_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_p2p_movements_recipient_platform",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_party_id"], ["parties.id"], name=op.f("fk_p2p_movements_recipient_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["sender_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_p2p_movements_sender_platform",
        ),
        sa.ForeignKeyConstraint(
            ["sender_party_id"], ["parties.id"], name=op.f("fk_p2p_movements_sender_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_p2p_movements")),
        sa.UniqueConstraint("seq", name=op.f("uq_p2p_movements_seq")),
    )
    op.create_index("ix_p2p_movements_recipient", "p2p_movements", ["recipient_party_id", "created_at"], unique=False)
    op.create_index("ix_p2p_movements_sender", "p2p_movements", ["sender_party_id", "created_at"], unique=False)
    op.create_table(
        "p2p_usage",
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("movements", sa.Integer(), nullable=False),
        sa.CheckConstraint("total_minor >= 0 AND movements >= 0", name=op.f("ck_p2p_usage_not_negative")),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_p2p_usage_party_platform"
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_p2p_usage_party_id_parties")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_p2p_usage_platform_id_platforms")),
        sa.PrimaryKeyConstraint("party_id", "currency", "day", name=op.f("pk_p2p_usage")),
    )
    op.create_table(
        "transfers",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("sender_party_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_party_id", sa.String(length=64), nullable=False),
        sa.Column("sender_wallet_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_wallet_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("metadata", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_transfers_currency_format")),
        sa.CheckConstraint("jsonb_typeof(metadata) = 'object'", name=op.f("ck_transfers_metadata_object")),
        sa.CheckConstraint("status IN ('succeeded')", name=op.f("ck_transfers_status")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transfers_amount_positive")),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name=op.f("ck_transfers_created_by_length")),
        sa.CheckConstraint("char_length(reference) BETWEEN 1 AND 200", name=op.f("ck_transfers_reference_length")),
        sa.CheckConstraint("fee_minor >= 0 AND fee_minor < amount_minor", name=op.f("ck_transfers_fee_below_amount")),
        sa.CheckConstraint("sender_party_id <> recipient_party_id", name=op.f("ck_transfers_two_parties")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_transfers_platform_id_platforms")),
        sa.ForeignKeyConstraint(
            ["recipient_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_transfers_recipient_platform",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_party_id"], ["parties.id"], name=op.f("fk_transfers_recipient_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_transfers_recipient_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_wallet_id"], ["wallets.id"], name=op.f("fk_transfers_recipient_wallet_id_wallets")
        ),
        sa.ForeignKeyConstraint(
            ["sender_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_transfers_sender_platform",
        ),
        sa.ForeignKeyConstraint(["sender_party_id"], ["parties.id"], name=op.f("fk_transfers_sender_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["sender_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_transfers_sender_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["sender_wallet_id"], ["wallets.id"], name=op.f("fk_transfers_sender_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("seq", name=op.f("uq_transfers_seq")),
    )
    op.create_index("ix_transfers_platform", "transfers", ["platform_id", "seq"], unique=False)
    op.create_index("ix_transfers_recipient", "transfers", ["recipient_party_id", "seq"], unique=False)
    op.create_index("ix_transfers_recipient_wallet", "transfers", ["recipient_wallet_id", "seq"], unique=False)
    op.create_index("ix_transfers_sender", "transfers", ["sender_party_id", "seq"], unique=False)
    op.create_index("ix_transfers_sender_wallet", "transfers", ["sender_wallet_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_transfers_sender_wallet", table_name="transfers")
    op.drop_index("ix_transfers_sender", table_name="transfers")
    op.drop_index("ix_transfers_recipient_wallet", table_name="transfers")
    op.drop_index("ix_transfers_recipient", table_name="transfers")
    op.drop_index("ix_transfers_platform", table_name="transfers")
    op.drop_table("transfers")
    op.drop_table("p2p_usage")
    op.drop_index("ix_p2p_movements_sender", table_name="p2p_movements")
    op.drop_index("ix_p2p_movements_recipient", table_name="p2p_movements")
    op.drop_table("p2p_movements")
    op.drop_index("ix_p2p_certifications_party", table_name="p2p_certifications")
    op.drop_table("p2p_certifications")
    op.drop_index("ix_p2p_allowlist_party", table_name="p2p_allowlist")
    op.drop_table("p2p_allowlist")
