"""Instalment plans (``sika.instalments``): instalment_plans, instalments,
instalment_reductions and instalment_payments.

Every row belongs to its plan's platform (composite foreign keys to the parties,
wallets, plan and instalment say so). Partial unique indexes keep at most one
payment in flight and at most one succeeded per instalment.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 21:30:00.000000
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "instalment_plans",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("payer_party_id", sa.String(length=64), nullable=False),
        sa.Column("payer_wallet_id", sa.String(length=64), nullable=False),
        sa.Column("payee_party_id", sa.String(length=64), nullable=True),
        sa.Column("payee_wallet_id", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("instalment_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_instalment_plans_currency_format")),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'cancelled', 'stopped')", name=op.f("ck_instalment_plans_status")
        ),
        sa.CheckConstraint(
            "(payee_party_id IS NULL) = (payee_wallet_id IS NULL)", name=op.f("ck_instalment_plans_payee_whole")
        ),
        sa.CheckConstraint(
            "char_length(created_by) BETWEEN 1 AND 100", name=op.f("ck_instalment_plans_created_by_length")
        ),
        sa.CheckConstraint(
            "char_length(end_reason) BETWEEN 1 AND 1000", name=op.f("ck_instalment_plans_end_reason_length")
        ),
        sa.CheckConstraint("instalment_count >= 1", name=op.f("ck_instalment_plans_count_positive")),
        sa.CheckConstraint(
            "payee_party_id IS NULL OR payee_party_id <> payer_party_id", name=op.f("ck_instalment_plans_two_parties")
        ),
        sa.CheckConstraint("total_minor > 0", name=op.f("ck_instalment_plans_total_positive")),
        sa.ForeignKeyConstraint(
            ["payee_party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_instalment_plans_payee"
        ),
        sa.ForeignKeyConstraint(
            ["payee_party_id"], ["parties.id"], name=op.f("fk_instalment_plans_payee_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["payee_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_instalment_plans_payee_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["payee_wallet_id"], ["wallets.id"], name=op.f("fk_instalment_plans_payee_wallet_id_wallets")
        ),
        sa.ForeignKeyConstraint(
            ["payer_party_id", "platform_id"], ["parties.id", "parties.platform_id"], name="fk_instalment_plans_payer"
        ),
        sa.ForeignKeyConstraint(
            ["payer_party_id"], ["parties.id"], name=op.f("fk_instalment_plans_payer_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["payer_wallet_id", "platform_id"],
            ["wallets.id", "wallets.platform_id"],
            name="fk_instalment_plans_payer_wallet",
        ),
        sa.ForeignKeyConstraint(
            ["payer_wallet_id"], ["wallets.id"], name=op.f("fk_instalment_plans_payer_wallet_id_wallets")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_instalment_plans_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment_plans")),
        sa.UniqueConstraint("id", "platform_id", name="uq_instalment_plans_id_platform_id"),
        sa.UniqueConstraint("seq", name=op.f("uq_instalment_plans_seq")),
    )
    op.create_index("ix_instalment_plans_payer", "instalment_plans", ["payer_party_id", "seq"], unique=False)
    op.create_index("ix_instalment_plans_platform", "instalment_plans", ["platform_id", "seq"], unique=False)
    op.create_table(
        "instalments",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("reminded_within", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name=op.f("ck_instalments_paid_at")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'due', 'overdue', 'paid', 'cancelled', 'stopped')",
            name=op.f("ck_instalments_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_instalments_amount_positive")),
        sa.CheckConstraint("char_length(end_reason) BETWEEN 1 AND 1000", name=op.f("ck_instalments_end_reason_length")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_instalments_number_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id", "platform_id"],
            ["instalment_plans.id", "instalment_plans.platform_id"],
            name="fk_instalments_plan",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["instalment_plans.id"], name=op.f("fk_instalments_plan_id_instalment_plans")
        ),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], name=op.f("fk_instalments_platform_id_platforms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalments")),
        sa.UniqueConstraint("id", "platform_id", name="uq_instalments_id_platform_id"),
        sa.UniqueConstraint("plan_id", "number", name="uq_instalments_plan_number"),
        sa.UniqueConstraint("seq", name=op.f("uq_instalments_seq")),
    )
    op.create_index(
        "ix_instalments_open_due",
        "instalments",
        ["due_on"],
        unique=False,
        postgresql_where=sa.text("status IN ('scheduled', 'due', 'overdue')"),
    )
    op.create_table(
        "instalment_payments",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("instalment_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("base_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reduction_minor", sa.BigInteger(), nullable=False),
        sa.Column("final_minor", sa.BigInteger(), nullable=False),
        sa.Column("promo_code", sa.String(length=64), nullable=True),
        sa.Column("promo_code_id", sa.String(length=64), nullable=True),
        sa.Column("collection_id", sa.String(length=64), nullable=True),
        sa.Column("transfer_id", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(method = 'nothing_due') = (final_minor = 0)", name=op.f("ck_instalment_payments_nothing_due_iff_zero")
        ),
        sa.CheckConstraint(
            "(method IN ('mobile_money', 'card')) = (collection_id IS NOT NULL)",
            name=op.f("ck_instalment_payments_collection_iff_collected"),
        ),
        sa.CheckConstraint(
            "method IN ('wallet', 'mobile_money', 'card', 'nothing_due')", name=op.f("ck_instalment_payments_method")
        ),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_instalment_payments_status")),
        sa.CheckConstraint(
            "(promo_code IS NULL) = (promo_code_id IS NULL)", name=op.f("ck_instalment_payments_promo_whole")
        ),
        sa.CheckConstraint(
            "base_minor > 0 AND discount_minor >= 0 AND reduction_minor >= 0",
            name=op.f("ck_instalment_payments_amounts"),
        ),
        sa.CheckConstraint(
            "final_minor = greatest(0, base_minor - discount_minor - reduction_minor)",
            name=op.f("ck_instalment_payments_final_of_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["payments_collections.id"],
            name=op.f("fk_instalment_payments_collection_id_payments_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id", "platform_id"],
            ["instalments.id", "instalments.platform_id"],
            name="fk_instalment_payments_instalment",
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id"], ["instalments.id"], name=op.f("fk_instalment_payments_instalment_id_instalments")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_instalment_payments_platform_id_platforms")
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"], ["promo_codes.id"], name=op.f("fk_instalment_payments_promo_code_id_promo_codes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment_payments")),
        sa.UniqueConstraint("collection_id", name=op.f("uq_instalment_payments_collection_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_instalment_payments_seq")),
    )
    op.create_index("ix_instalment_payments_instalment", "instalment_payments", ["instalment_id", "seq"], unique=False)
    op.create_index(
        "uq_instalment_payments_one_pending",
        "instalment_payments",
        ["instalment_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "uq_instalment_payments_one_succeeded",
        "instalment_payments",
        ["instalment_id"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.create_table(
        "instalment_reductions",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("instalment_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("percent_bps", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'fixed' AND amount_minor > 0 AND percent_bps IS NULL) OR (kind = 'percent' AND percent_bps BETWEEN 1 AND 10000 AND amount_minor IS NULL)",
            name=op.f("ck_instalment_reductions_value_of_kind"),
        ),
        sa.CheckConstraint("kind IN ('fixed', 'percent')", name=op.f("ck_instalment_reductions_kind")),
        sa.CheckConstraint(
            "char_length(reason) BETWEEN 1 AND 1000", name=op.f("ck_instalment_reductions_reason_length")
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id", "platform_id"],
            ["instalments.id", "instalments.platform_id"],
            name="fk_instalment_reductions_instalment",
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id"], ["instalments.id"], name=op.f("fk_instalment_reductions_instalment_id_instalments")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_instalment_reductions_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment_reductions")),
        sa.UniqueConstraint("seq", name=op.f("uq_instalment_reductions_seq")),
    )
    op.create_index(
        "ix_instalment_reductions_instalment", "instalment_reductions", ["instalment_id", "seq"], unique=False
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_instalment_reductions_instalment", table_name="instalment_reductions")
    op.drop_table("instalment_reductions")
    op.drop_index(
        "uq_instalment_payments_one_succeeded",
        table_name="instalment_payments",
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.drop_index(
        "uq_instalment_payments_one_pending",
        table_name="instalment_payments",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_instalment_payments_instalment", table_name="instalment_payments")
    op.drop_table("instalment_payments")
    op.drop_index(
        "ix_instalments_open_due",
        table_name="instalments",
        postgresql_where=sa.text("status IN ('scheduled', 'due', 'overdue')"),
    )
    op.drop_table("instalments")
    op.drop_index("ix_instalment_plans_platform", table_name="instalment_plans")
    op.drop_index("ix_instalment_plans_payer", table_name="instalment_plans")
    op.drop_table("instalment_plans")
