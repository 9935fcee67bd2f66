"""Escrow with milestones: escrows and escrow_milestones (``sika.escrow``).

Both tables belong to a platform: an escrow takes its client's platform, and
composite foreign keys keep both parties, both wallets and every milestone on
that platform. The escrow's money sits in a ledger account of its own (kind
``escrow.held``, managed), opened by the escrow service; nothing here moves money.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 15:30:00.000000
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('escrows',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('client_party_id', sa.String(length=64), nullable=False),
    sa.Column('beneficiary_party_id', sa.String(length=64), nullable=False),
    sa.Column('client_wallet_id', sa.String(length=64), nullable=False),
    sa.Column('beneficiary_wallet_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('fee_minor', sa.BigInteger(), nullable=False),
    sa.Column('funded_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('released_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('deposit_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('release_after_delivery_seconds', sa.Integer(), nullable=False),
    sa.Column('metadata', JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_escrows_currency_format')),
    sa.CheckConstraint("jsonb_typeof(metadata) = 'object'", name=op.f('ck_escrows_metadata_object')),
    sa.CheckConstraint("status IN ('awaiting_funding', 'funded', 'completed', 'refunded', 'partially_refunded', 'cancelled')", name=op.f('ck_escrows_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_escrows_amount_positive')),
    sa.CheckConstraint('char_length(created_by) BETWEEN 1 AND 100', name=op.f('ck_escrows_created_by_length')),
    sa.CheckConstraint('client_party_id <> beneficiary_party_id', name=op.f('ck_escrows_two_parties')),
    sa.CheckConstraint('fee_minor BETWEEN 0 AND amount_minor', name=op.f('ck_escrows_fee_within_amount')),
    sa.CheckConstraint('funded_minor BETWEEN 0 AND amount_minor', name=op.f('ck_escrows_funded_within_amount')),
    sa.CheckConstraint('release_after_delivery_seconds >= 0', name=op.f('ck_escrows_release_delay_not_negative')),
    sa.CheckConstraint('released_minor + refunded_minor <= funded_minor', name=op.f('ck_escrows_moved_within_funded')),
    sa.CheckConstraint('released_minor >= 0 AND refunded_minor >= 0', name=op.f('ck_escrows_moved_not_negative')),
    sa.ForeignKeyConstraint(['account_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.currency'], name='fk_escrows_account'),
    sa.ForeignKeyConstraint(['beneficiary_party_id', 'platform_id'], ['parties.id', 'parties.platform_id'], name='fk_escrows_beneficiary_platform'),
    sa.ForeignKeyConstraint(['beneficiary_party_id'], ['parties.id'], name=op.f('fk_escrows_beneficiary_party_id_parties')),
    sa.ForeignKeyConstraint(['beneficiary_wallet_id', 'platform_id'], ['wallets.id', 'wallets.platform_id'], name='fk_escrows_beneficiary_wallet'),
    sa.ForeignKeyConstraint(['beneficiary_wallet_id'], ['wallets.id'], name=op.f('fk_escrows_beneficiary_wallet_id_wallets')),
    sa.ForeignKeyConstraint(['client_party_id', 'platform_id'], ['parties.id', 'parties.platform_id'], name='fk_escrows_client_platform'),
    sa.ForeignKeyConstraint(['client_party_id'], ['parties.id'], name=op.f('fk_escrows_client_party_id_parties')),
    sa.ForeignKeyConstraint(['client_wallet_id', 'platform_id'], ['wallets.id', 'wallets.platform_id'], name='fk_escrows_client_wallet'),
    sa.ForeignKeyConstraint(['client_wallet_id'], ['wallets.id'], name=op.f('fk_escrows_client_wallet_id_wallets')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_escrows_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escrows')),
    sa.UniqueConstraint('account_id', name=op.f('uq_escrows_account_id')),
    sa.UniqueConstraint('id', 'platform_id', name='uq_escrows_id_platform_id'),
    sa.UniqueConstraint('seq', name=op.f('uq_escrows_seq'))
    )
    op.create_index('ix_escrows_beneficiary', 'escrows', ['beneficiary_party_id', 'seq'], unique=False)
    op.create_index('ix_escrows_client', 'escrows', ['client_party_id', 'seq'], unique=False)
    op.create_index('ix_escrows_platform', 'escrows', ['platform_id', 'seq'], unique=False)
    op.create_table('escrow_milestones',
    sa.Column('escrow_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('fee_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('deliver_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disputed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispute_reason', sa.Text(), nullable=True),
    sa.Column('released_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee_paid_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'delivered') = (release_at IS NOT NULL)", name=op.f('ck_escrow_milestones_release_at_iff_delivered')),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'disputed', 'released', 'refunded', 'divided')", name=op.f('ck_escrow_milestones_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_escrow_milestones_amount_positive')),
    sa.CheckConstraint('char_length(dispute_reason) BETWEEN 1 AND 1000', name=op.f('ck_escrow_milestones_dispute_reason_length')),
    sa.CheckConstraint('char_length(resolution_note) BETWEEN 1 AND 1000', name=op.f('ck_escrow_milestones_resolution_note_length')),
    sa.CheckConstraint('char_length(resolved_by) BETWEEN 1 AND 100', name=op.f('ck_escrow_milestones_resolved_by_length')),
    sa.CheckConstraint('char_length(title) BETWEEN 1 AND 200', name=op.f('ck_escrow_milestones_title_length')),
    sa.CheckConstraint('fee_minor BETWEEN 0 AND amount_minor', name=op.f('ck_escrow_milestones_fee_within_amount')),
    sa.CheckConstraint('fee_paid_minor BETWEEN 0 AND released_minor', name=op.f('ck_escrow_milestones_fee_within_released')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_escrow_milestones_number_positive')),
    sa.CheckConstraint('released_minor + refunded_minor <= amount_minor', name=op.f('ck_escrow_milestones_moved_within_amount')),
    sa.CheckConstraint('released_minor >= 0 AND refunded_minor >= 0', name=op.f('ck_escrow_milestones_moved_not_negative')),
    sa.ForeignKeyConstraint(['escrow_id', 'platform_id'], ['escrows.id', 'escrows.platform_id'], name='fk_escrow_milestones_escrow'),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrows.id'], name=op.f('fk_escrow_milestones_escrow_id_escrows')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_escrow_milestones_platform_id_platforms')),
    sa.PrimaryKeyConstraint('escrow_id', 'number', name=op.f('pk_escrow_milestones'))
    )
    op.create_index('ix_escrow_milestones_deadline', 'escrow_milestones', ['deliver_by'], unique=False, postgresql_where=sa.text("status = 'pending' AND deliver_by IS NOT NULL"))
    op.create_index('ix_escrow_milestones_release_due', 'escrow_milestones', ['release_at'], unique=False, postgresql_where=sa.text("status = 'delivered'"))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_escrow_milestones_release_due", table_name="escrow_milestones", postgresql_where=sa.text("status = 'delivered'"))
    op.drop_index("ix_escrow_milestones_deadline", table_name="escrow_milestones", postgresql_where=sa.text("status = 'pending' AND deliver_by IS NOT NULL"))
    op.drop_table("escrow_milestones")
    op.drop_index("ix_escrows_platform", table_name="escrows")
    op.drop_index("ix_escrows_client", table_name="escrows")
    op.drop_index("ix_escrows_beneficiary", table_name="escrows")
    op.drop_table("escrows")
