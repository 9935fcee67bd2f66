"""Provider calls: payments_provider_calls (``sika.payments.models.ProviderCall``),
each request Sika sent a provider for a collection or a payout and its answer,
redacted before it is written, for the payment's timeline. A call belongs to
its payment's platform.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26 22:00:00.000000
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('payments_provider_calls',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('request', JSONB(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', JSONB(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.CheckConstraint("entity_type IN ('collection', 'payout')", name=op.f('ck_payments_provider_calls_entity_type')),
    sa.CheckConstraint('duration_ms >= 0', name=op.f('ck_payments_provider_calls_duration_positive')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_payments_provider_calls_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_provider_calls')),
    sa.UniqueConstraint('seq', name=op.f('uq_payments_provider_calls_seq'))
    )
    op.create_index('ix_payments_provider_calls_entity', 'payments_provider_calls', ['entity_id', 'seq'], unique=False)
    op.create_index('ix_payments_provider_calls_platform', 'payments_provider_calls', ['platform_id', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_payments_provider_calls_platform', table_name='payments_provider_calls')
    op.drop_index('ix_payments_provider_calls_entity', table_name='payments_provider_calls')
    op.drop_table('payments_provider_calls')
