"""Platforms: every row a platform owns names it (``sika.core.tenancy``).

An upgraded installation keeps working: its rows go under one platform,
``plt_default``, and every ``platform`` key is bound to it. What belongs to the
installation rather than to a platform stays unbound (null): keys with no
``platform`` scope, system ledger accounts (funding, provider clearing), alerts
and audit rows about them, and webhooks that matched no collection or payout.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:40:00.000000
"""

# ruff: noqa: E501, S608
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT = "plt_default"

# Tables whose every row belongs to a platform: the column is added with the
# default platform as its default (a catalog-only change: no row is rewritten,
# no row trigger fires, which matters for the append-only wallet_holds), then
# the default is dropped so that code must always say which platform.
OWNED = ("parties", "wallets", "wallet_holds", "payments_collections", "payments_payouts")
# Tables with rows of the installation's own as well: nullable, filled below.
SOMETIMES_OWNED = ("auth_api_keys", "ledger_accounts", "audit_events", "events", "alerts", "webhooks_inbound_events")

PARTY_OBJECTS = "('party', 'wallet', 'hold', 'collection', 'payout')"

BACKFILL = rf"""
UPDATE auth_api_keys SET platform_id = '{DEFAULT}' WHERE 'platform' = ANY(scopes);
-- Wallet and fee accounts are a platform's; so is what a key opened through the raw
-- ledger API (not managed). Managed system accounts (funding, clearing) stay unbound.
UPDATE ledger_accounts SET platform_id = '{DEFAULT}'
 WHERE NOT is_managed OR kind IN ('wallet', 'wallet.holds', 'platform.fees');
UPDATE events SET platform_id = '{DEFAULT}';
UPDATE alerts SET platform_id = '{DEFAULT}' WHERE entity_type IN {PARTY_OBJECTS};
UPDATE webhooks_inbound_events w SET platform_id = '{DEFAULT}'
 WHERE EXISTS (SELECT 1 FROM payments_collections c WHERE c.id = w.reference)
    OR EXISTS (SELECT 1 FROM payments_payouts p WHERE p.id = w.reference);
-- The audit log is append-only (its trigger refuses updates); its rows are given their
-- platform once, here, with the trigger off inside this migration's transaction.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE audit_events a SET platform_id = '{DEFAULT}'
 WHERE a.entity_type IN {PARTY_OBJECTS} OR a.entity_type = 'ledger_transfer'
    OR (a.entity_type = 'ledger_account' AND EXISTS (
            SELECT 1 FROM ledger_accounts l WHERE l.id = a.entity_id AND l.platform_id IS NOT NULL))
    OR (a.entity_type = 'api_key' AND EXISTS (
            SELECT 1 FROM auth_api_keys k WHERE k.id = a.entity_id AND k.platform_id IS NOT NULL));
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
"""


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "platforms",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("fee_policy", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("settings", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_platforms_name_length")),
        sa.CheckConstraint("default_currency ~ '^[A-Z]{3}$'", name=op.f("ck_platforms_default_currency_format")),
        sa.CheckConstraint("jsonb_typeof(fee_policy) = 'object'", name=op.f("ck_platforms_fee_policy_object")),
        sa.CheckConstraint("jsonb_typeof(settings) = 'object'", name=op.f("ck_platforms_settings_object")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("seq", name=op.f("uq_platforms_seq")),
    )
    op.execute(f"INSERT INTO platforms (id, name, default_currency) VALUES ('{DEFAULT}', 'Default platform', 'XOF')")

    for table in OWNED:
        op.add_column(
            table, sa.Column("platform_id", sa.String(length=64), server_default=DEFAULT, nullable=False)
        )
        op.alter_column(table, "platform_id", server_default=None)
    for table in SOMETIMES_OWNED:
        op.add_column(table, sa.Column("platform_id", sa.String(length=64), nullable=True))
    op.execute(BACKFILL)
    for table in (*OWNED, *SOMETIMES_OWNED):
        op.create_foreign_key(
            op.f(f"fk_{table}_platform_id_platforms"), table, "platforms", ["platform_id"], ["id"]
        )

    op.create_check_constraint(
        op.f("ck_auth_api_keys_platform_key_bound"),
        "auth_api_keys",
        "platform_id IS NOT NULL OR NOT ('platform' = ANY(scopes))",
    )
    # Lists filter by platform first (docs/decisions/0005-tenancy.md).
    op.create_index("ix_auth_api_keys_platform", "auth_api_keys", ["platform_id", "created_at"])
    op.create_index("ix_parties_platform", "parties", ["platform_id", "seq"])
    op.create_index("ix_payments_collections_platform", "payments_collections", ["platform_id", "seq"])
    op.create_index("ix_payments_payouts_platform", "payments_payouts", ["platform_id", "seq"])
    op.create_index("ix_audit_events_platform", "audit_events", ["platform_id", "seq"])
    op.create_index("ix_events_platform", "events", ["platform_id", "seq"])
    op.create_index("ix_alerts_platform", "alerts", ["platform_id", "seq"])
    op.create_index("ix_ledger_accounts_platform", "ledger_accounts", ["platform_id", "seq"])
    op.create_index("ix_webhooks_inbound_events_platform", "webhooks_inbound_events", ["platform_id", "seq"])

    # A child row's platform is its parent's, by the database's own word.
    op.create_unique_constraint("uq_parties_id_platform_id", "parties", ["id", "platform_id"])
    op.create_unique_constraint("uq_wallets_id_platform_id", "wallets", ["id", "platform_id"])
    for table, name in (
        ("wallets", "fk_wallets_party_platform"),
        ("payments_collections", "fk_collections_party_platform"),
        ("payments_payouts", "fk_payouts_party_platform"),
    ):
        op.create_foreign_key(name, table, "parties", ["party_id", "platform_id"], ["id", "platform_id"])
    op.create_foreign_key(
        "fk_wallet_holds_wallet_platform", "wallet_holds", "wallets", ["wallet_id", "platform_id"], ["id", "platform_id"]
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_constraint("fk_wallet_holds_wallet_platform", "wallet_holds", type_="foreignkey")
    for table, name in (
        ("wallets", "fk_wallets_party_platform"),
        ("payments_collections", "fk_collections_party_platform"),
        ("payments_payouts", "fk_payouts_party_platform"),
    ):
        op.drop_constraint(name, table, type_="foreignkey")
    op.drop_constraint("uq_wallets_id_platform_id", "wallets", type_="unique")
    op.drop_constraint("uq_parties_id_platform_id", "parties", type_="unique")
    op.drop_constraint(op.f("ck_auth_api_keys_platform_key_bound"), "auth_api_keys", type_="check")
    # Dropping the column drops its indexes and its foreign key to platforms.
    for table in (*OWNED, *SOMETIMES_OWNED):
        op.drop_column(table, "platform_id")
    op.drop_table("platforms")
