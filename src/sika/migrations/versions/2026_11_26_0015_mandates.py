"""Usage mandates: the spend catalogue (mandate_spend_categories,
mandate_merchants) and mandates with their payees, purchases and spends
(``sika.mandates``).

Every table belongs to a platform, and composite foreign keys keep each row's
parties, wallets, merchant, payee and mandate on that platform. One active
mandate per sender, beneficiary and currency (a partial unique index). A
mandate's money sits in a ledger account of its own (kind ``mandate.held``,
managed), opened by the mandate service; nothing here moves money.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 18:11:03.583420
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "mandate_spend_categories",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label_en", sa.String(length=100), nullable=False),
        sa.Column("label_fr", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,39}$'", name=op.f("ck_mandate_spend_categories_code_format")),
        sa.CheckConstraint(
            "char_length(label_en) BETWEEN 1 AND 100", name=op.f("ck_mandate_spend_categories_label_en_length")
        ),
        sa.CheckConstraint(
            "char_length(label_fr) BETWEEN 1 AND 100", name=op.f("ck_mandate_spend_categories_label_fr_length")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_mandate_spend_categories_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_spend_categories")),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_spend_categories_id_platform_id"),
        sa.UniqueConstraint("platform_id", "code", name="uq_mandate_spend_categories_code"),
        sa.UniqueConstraint("seq", name=op.f("uq_mandate_spend_categories_seq")),
    )
    op.create_table(
        "mandate_merchants",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=False),
        sa.Column("certified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certified_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "certified = (certified_at IS NOT NULL)", name=op.f("ck_mandate_merchants_certified_at_iff_certified")
        ),
        sa.ForeignKeyConstraint(
            ["category_id", "platform_id"],
            ["mandate_spend_categories.id", "mandate_spend_categories.platform_id"],
            name="fk_mandate_merchants_category",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["mandate_spend_categories.id"],
            name=op.f("fk_mandate_merchants_category_id_mandate_spend_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_mandate_merchants_party"
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_mandate_merchants_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_mandate_merchants_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_merchants")),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_merchants_id_platform_id"),
        sa.UniqueConstraint("platform_id", "party_id", name="uq_mandate_merchants_party"),
        sa.UniqueConstraint("seq", name=op.f("uq_mandate_merchants_seq")),
    )
    op.create_index("ix_mandate_merchants_party", "mandate_merchants", ["party_id"], unique=False)
    op.create_table(
        "mandates",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("sender_party_id", sa.String(length=64), nullable=False),
        sa.Column("beneficiary_party_id", sa.String(length=64), nullable=False),
        sa.Column("sender_wallet_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("funded_minor", sa.BigInteger(), nullable=False),
        sa.Column("spent_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("top_up_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("allowed_category_ids", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False),
        sa.Column("allowed_merchant_ids", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False),
        sa.Column("certified_only", sa.Boolean(), nullable=False),
        sa.Column("max_purchase_minor", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(status = 'active') = (ended_at IS NULL)", name=op.f("ck_mandates_ended_at_iff_ended")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_mandates_currency_format")),
        sa.CheckConstraint("status IN ('active', 'consumed', 'expired', 'revoked')", name=op.f("ck_mandates_status")),
        sa.CheckConstraint("char_length(created_by) BETWEEN 1 AND 100", name=op.f("ck_mandates_created_by_length")),
        sa.CheckConstraint("funded_minor > 0", name=op.f("ck_mandates_funded_positive")),
        sa.CheckConstraint(
            "max_purchase_minor IS NULL OR max_purchase_minor > 0", name=op.f("ck_mandates_max_purchase_positive")
        ),
        sa.CheckConstraint("sender_party_id <> beneficiary_party_id", name=op.f("ck_mandates_two_parties")),
        sa.CheckConstraint(
            "spent_minor + returned_minor <= funded_minor", name=op.f("ck_mandates_moved_within_funded")
        ),
        sa.CheckConstraint("spent_minor >= 0 AND returned_minor >= 0", name=op.f("ck_mandates_moved_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"], ["ledger_accounts.id", "ledger_accounts.currency"], name="fk_mandates_account"
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_mandates_beneficiary_platform",
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_party_id"], ["parties.id"], name=op.f("fk_mandates_beneficiary_party_id_parties")
        ),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_mandates_platform_id_platforms")),
        sa.ForeignKeyConstraint(
            ["sender_party_id", "platform_id"],
            ["parties.id", "parties.platform_id"],
            name="fk_mandates_sender_platform",
        ),
        sa.ForeignKeyConstraint(["sender_party_id"], ["parties.id"], name=op.f("fk_mandates_sender_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["sender_wallet_id", "platform_id"], ["wallets.id", "wallets.platform_id"], name="fk_mandates_sender_wallet"
        ),
        sa.ForeignKeyConstraint(
            ["sender_wallet_id"], ["wallets.id"], name=op.f("fk_mandates_sender_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandates")),
        sa.UniqueConstraint("account_id", name=op.f("uq_mandates_account_id")),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandates_id_platform_id"),
        sa.UniqueConstraint("seq", name=op.f("uq_mandates_seq")),
    )
    op.create_index("ix_mandates_beneficiary", "mandates", ["beneficiary_party_id", "seq"], unique=False)
    op.create_index(
        "ix_mandates_expiry", "mandates", ["expires_at"], unique=False, postgresql_where=sa.text("status = 'active'")
    )
    op.create_index("ix_mandates_platform", "mandates", ["platform_id", "seq"], unique=False)
    op.create_index("ix_mandates_sender", "mandates", ["sender_party_id", "seq"], unique=False)
    op.create_index(
        "uq_mandates_active_pair",
        "mandates",
        ["sender_party_id", "beneficiary_party_id", "currency"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "mandate_payees",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mandate_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=64), nullable=False),
        sa.Column("daily_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("total_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("spent_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "daily_limit_minor IS NOT NULL OR total_limit_minor IS NOT NULL", name=op.f("ck_mandate_payees_a_limit")
        ),
        sa.CheckConstraint(
            "daily_limit_minor IS NULL OR daily_limit_minor > 0", name=op.f("ck_mandate_payees_daily_limit_positive")
        ),
        sa.CheckConstraint("spent_minor >= 0", name=op.f("ck_mandate_payees_spent_not_negative")),
        sa.CheckConstraint(
            "total_limit_minor IS NULL OR total_limit_minor > 0", name=op.f("ck_mandate_payees_total_limit_positive")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id", "platform_id"], ["mandates.id", "mandates.platform_id"], name="fk_mandate_payees_mandate"
        ),
        sa.ForeignKeyConstraint(["mandate_id"], ["mandates.id"], name=op.f("fk_mandate_payees_mandate_id_mandates")),
        sa.ForeignKeyConstraint(
            ["party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_mandate_payees_party"
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_mandate_payees_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_mandate_payees_platform_id_platforms")
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id", "platform_id"], ["wallets.id", "wallets.platform_id"], name="fk_mandate_payees_wallet"
        ),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_mandate_payees_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_payees")),
        sa.UniqueConstraint("id", "platform_id", name="uq_mandate_payees_id_platform_id"),
        sa.UniqueConstraint("mandate_id", "party_id", name="uq_mandate_payees_party"),
        sa.UniqueConstraint("seq", name=op.f("uq_mandate_payees_seq")),
    )
    op.create_table(
        "mandate_purchases",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mandate_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_wallet_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_mandate_purchases_amount_positive")),
        sa.CheckConstraint(
            "char_length(reference) BETWEEN 1 AND 200", name=op.f("ck_mandate_purchases_reference_length")
        ),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name=op.f("ck_mandate_purchases_fee_within_amount")),
        sa.ForeignKeyConstraint(
            ["mandate_id", "platform_id"], ["mandates.id", "mandates.platform_id"], name="fk_mandate_purchases_mandate"
        ),
        sa.ForeignKeyConstraint(["mandate_id"], ["mandates.id"], name=op.f("fk_mandate_purchases_mandate_id_mandates")),
        sa.ForeignKeyConstraint(
            ["merchant_id", "platform_id"],
            ["mandate_merchants.id", "mandate_merchants.platform_id"],
            name="fk_mandate_purchases_merchant",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["mandate_merchants.id"], name=op.f("fk_mandate_purchases_merchant_id_mandate_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_mandate_purchases_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_wallet_id"], ["wallets.id"], name=op.f("fk_mandate_purchases_merchant_wallet_id_wallets")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_mandate_purchases_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_purchases")),
        sa.UniqueConstraint("seq", name=op.f("uq_mandate_purchases_seq")),
    )
    op.create_index("ix_mandate_purchases_mandate", "mandate_purchases", ["mandate_id", "seq"], unique=False)
    op.create_table(
        "mandate_spends",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mandate_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("payee_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_mandate_spends_amount_positive")),
        sa.CheckConstraint("char_length(reference) BETWEEN 1 AND 200", name=op.f("ck_mandate_spends_reference_length")),
        sa.CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name=op.f("ck_mandate_spends_fee_within_amount")),
        sa.ForeignKeyConstraint(
            ["mandate_id", "platform_id"], ["mandates.id", "mandates.platform_id"], name="fk_mandate_spends_mandate"
        ),
        sa.ForeignKeyConstraint(["mandate_id"], ["mandates.id"], name=op.f("fk_mandate_spends_mandate_id_mandates")),
        sa.ForeignKeyConstraint(
            ["payee_id", "platform_id"],
            ["mandate_payees.id", "mandate_payees.platform_id"],
            name="fk_mandate_spends_payee",
        ),
        sa.ForeignKeyConstraint(
            ["payee_id"], ["mandate_payees.id"], name=op.f("fk_mandate_spends_payee_id_mandate_payees")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_mandate_spends_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_spends")),
        sa.UniqueConstraint("seq", name=op.f("uq_mandate_spends_seq")),
    )
    op.create_index("ix_mandate_spends_payee_day", "mandate_spends", ["payee_id", "day"], unique=False)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_mandate_spends_payee_day", table_name="mandate_spends")
    op.drop_table("mandate_spends")
    op.drop_index("ix_mandate_purchases_mandate", table_name="mandate_purchases")
    op.drop_table("mandate_purchases")
    op.drop_table("mandate_payees")
    op.drop_index("uq_mandates_active_pair", table_name="mandates", postgresql_where=sa.text("status = 'active'"))
    op.drop_index("ix_mandates_sender", table_name="mandates")
    op.drop_index("ix_mandates_platform", table_name="mandates")
    op.drop_index("ix_mandates_expiry", table_name="mandates", postgresql_where=sa.text("status = 'active'"))
    op.drop_index("ix_mandates_beneficiary", table_name="mandates")
    op.drop_table("mandates")
    op.drop_index("ix_mandate_merchants_party", table_name="mandate_merchants")
    op.drop_table("mandate_merchants")
    op.drop_table("mandate_spend_categories")
