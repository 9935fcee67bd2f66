"""Search indexes: one per key ``GET /v1/search`` reads (docs/support.md), so each
look-up is an index scan at a million payments rather than a sequential scan.

Built with ``CREATE INDEX CONCURRENTLY``, outside the migration's transaction
(Alembic's autocommit block; ``sika.migrations.env`` runs one transaction per
migration, so only this file's own work is committed early): the tables stay
open to writes while each index is built. An index left invalid by a build
that failed (a deadlock, a cancelled deploy) is dropped and built again on the
next run; a valid one already there, made by hand ahead of the deploy from the
statements below, is kept.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, what it indexes, the rows it covers): the same as the models' __table_args__.
INDEXES = (
    ("ix_payments_collections_provider_reference", "payments_collections", "provider_reference",
     "provider_reference IS NOT NULL"),
    ("ix_payments_collections_idempotency_key", "payments_collections", "idempotency_key",
     "idempotency_key IS NOT NULL"),
    ("ix_payments_collections_phone", "payments_collections", "phone", "phone IS NOT NULL"),
    ("ix_payments_collections_phone_reversed", "payments_collections", "reverse(phone) text_pattern_ops",
     "phone IS NOT NULL"),
    ("ix_payments_collections_email", "payments_collections", "lower(customer_email)", None),
    ("ix_payments_collections_amount", "payments_collections", "amount_minor, created_at", None),
    ("ix_payments_payouts_provider_reference", "payments_payouts", "provider_reference",
     "provider_reference IS NOT NULL"),
    ("ix_payments_payouts_idempotency_key", "payments_payouts", "idempotency_key", "idempotency_key IS NOT NULL"),
    ("ix_payments_payouts_phone", "payments_payouts", "phone", None),
    ("ix_payments_payouts_phone_reversed", "payments_payouts", "reverse(phone) text_pattern_ops", None),
    ("ix_payments_payouts_amount", "payments_payouts", "amount_minor, created_at", None),
    ("ix_parties_phone", "parties", "phone", "phone IS NOT NULL"),
    ("ix_parties_phone_reversed", "parties", "reverse(phone) text_pattern_ops", "phone IS NOT NULL"),
    ("ix_parties_email", "parties", "lower(email)", "email IS NOT NULL"),
    ("ix_wallet_holds_owner", "wallet_holds", "owner_id", "owner_id IS NOT NULL"),
    ("ix_webhooks_inbound_events_event_id", "webhooks_inbound_events", "event_id", None),
)  # fmt: skip


def statement(name: str, table: str, indexed: str, where: str | None) -> str:
    """The index's ``CREATE INDEX CONCURRENTLY``, as an operator would run it by hand."""
    return f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({indexed})" + (
        f" WHERE {where}" if where else ""
    )


def _drop_if_invalid(name: str) -> None:
    invalid = op.get_bind().scalar(
        sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"), {"name": name}
    )
    if invalid:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")


def upgrade() -> None:
    # No lock_timeout here, unlike the other migrations: a concurrent build blocks no reads or writes
    # while it waits (its lock conflicts only with DDL and VACUUM), so waiting for older
    # transactions to finish is harmless, and failing on them would leave an invalid index behind.
    with op.get_context().autocommit_block():
        for name, table, indexed, where in INDEXES:
            _drop_if_invalid(name)
            op.execute(statement(name, table, indexed, where))


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, _table, _indexed, _where in reversed(INDEXES):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
