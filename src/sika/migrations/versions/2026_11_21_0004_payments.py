"""Collections, payouts, inbound webhook events and the domain events outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 08:48:23.450446
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('events',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('entity_type', sa.String(length=50), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("type ~ '^[a-z][a-z_]*\\.[a-z][a-z_]*$'", name=op.f('ck_events_type_format')),
    sa.CheckConstraint('char_length(entity_type) BETWEEN 1 AND 50', name=op.f('ck_events_entity_type_length')),
    sa.CheckConstraint('octet_length(data::text) <= 16384', name=op.f('ck_events_data_size')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_events_seq'))
    )
    op.create_index('ix_events_entity', 'events', ['entity_type', 'entity_id', 'seq'], unique=False)
    op.create_index('ix_events_type', 'events', ['type', 'seq'], unique=False)
    op.create_table('webhooks_inbound_events',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'received') = (processed_at IS NULL)", name=op.f('ck_webhooks_inbound_events_processed_iff_done')),
    sa.CheckConstraint("provider IN ('paystack', 'fedapay', 'stripe')", name=op.f('ck_webhooks_inbound_events_provider')),
    sa.CheckConstraint("status IN ('received', 'processed', 'ignored', 'unmatched', 'rejected', 'failed')", name=op.f('ck_webhooks_inbound_events_status')),
    sa.CheckConstraint("subject IS NULL OR subject IN ('collection', 'payout')", name=op.f('ck_webhooks_inbound_events_subject')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_webhooks_inbound_events_attempts_not_negative')),
    sa.CheckConstraint('char_length(event_id) BETWEEN 1 AND 200', name=op.f('ck_webhooks_inbound_events_event_id_length')),
    sa.CheckConstraint('char_length(event_type) BETWEEN 1 AND 100', name=op.f('ck_webhooks_inbound_events_event_type_length')),
    sa.CheckConstraint('char_length(last_error) <= 2000', name=op.f('ck_webhooks_inbound_events_last_error_length')),
    sa.CheckConstraint('octet_length(body) <= 1048576', name=op.f('ck_webhooks_inbound_events_body_size')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks_inbound_events')),
    sa.UniqueConstraint('provider', 'event_id', name='uq_webhooks_inbound_events_provider_event'),
    sa.UniqueConstraint('seq', name=op.f('uq_webhooks_inbound_events_seq'))
    )
    op.create_index('ix_webhooks_inbound_events_reference', 'webhooks_inbound_events', ['reference'], unique=False)
    op.create_index('ix_webhooks_inbound_events_status', 'webhooks_inbound_events', ['status', 'seq'], unique=False)
    op.create_table('payments_collections',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('wallet_id', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('operator', sa.String(length=16), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('customer_email', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('provider_reference', sa.Text(), nullable=True),
    sa.Column('next_action', sa.String(length=20), nullable=True),
    sa.Column('display_text', sa.Text(), nullable=True),
    sa.Column('redirect_url', sa.Text(), nullable=True),
    sa.Column('failure_code', sa.String(length=100), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('reported_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('reported_currency', sa.String(length=3), nullable=True),
    sa.Column('credit_transfer_id', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(method = 'mobile_money') = (operator IS NOT NULL AND phone IS NOT NULL)", name=op.f('ck_payments_collections_mobile_money_whole')),
    sa.CheckConstraint("(status = 'action_required') = (next_action IS NOT NULL)", name=op.f('ck_payments_collections_action_iff_required')),
    sa.CheckConstraint("(status = 'succeeded') = (credit_transfer_id IS NOT NULL)", name=op.f('ck_payments_collections_credited_iff_succeeded')),
    sa.CheckConstraint("(status IN ('succeeded', 'failed', 'amount_mismatch')) = (completed_at IS NOT NULL)", name=op.f('ck_payments_collections_completed_iff_final')),
    sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f('ck_payments_collections_country_alpha2')),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_payments_collections_currency_format')),
    sa.CheckConstraint("method IN ('mobile_money', 'card')", name=op.f('ck_payments_collections_method')),
    sa.CheckConstraint("next_action IS NULL OR next_action IN ('submit_otp', 'approve_on_phone', 'redirect')", name=op.f('ck_payments_collections_next_action')),
    sa.CheckConstraint("operator IS NULL OR operator IN ('orange', 'mtn', 'moov', 'wave')", name=op.f('ck_payments_collections_operator')),
    sa.CheckConstraint("phone IS NULL OR phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_payments_collections_phone_e164')),
    sa.CheckConstraint("provider IS NULL OR provider IN ('paystack', 'fedapay', 'stripe')", name=op.f('ck_payments_collections_provider')),
    sa.CheckConstraint("status IN ('initiated', 'action_required', 'processing', 'succeeded', 'failed', 'amount_mismatch')", name=op.f('ck_payments_collections_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payments_collections_amount_positive')),
    sa.CheckConstraint('char_length(customer_email) BETWEEN 3 AND 254', name=op.f('ck_payments_collections_customer_email_length')),
    sa.CheckConstraint('char_length(description) <= 500', name=op.f('ck_payments_collections_description_length')),
    sa.CheckConstraint('char_length(display_text) <= 500', name=op.f('ck_payments_collections_display_text_length')),
    sa.CheckConstraint('char_length(failure_code) BETWEEN 1 AND 100', name=op.f('ck_payments_collections_failure_code_length')),
    sa.CheckConstraint('char_length(failure_message) <= 500', name=op.f('ck_payments_collections_failure_message_length')),
    sa.CheckConstraint('char_length(idempotency_key) BETWEEN 1 AND 255', name=op.f('ck_payments_collections_idempotency_key_length')),
    sa.CheckConstraint('char_length(provider_reference) BETWEEN 1 AND 200', name=op.f('ck_payments_collections_provider_reference_length')),
    sa.CheckConstraint('char_length(redirect_url) <= 2000', name=op.f('ck_payments_collections_redirect_url_length')),
    sa.CheckConstraint('char_length(return_url) <= 2000', name=op.f('ck_payments_collections_return_url_length')),
    sa.ForeignKeyConstraint(['credit_transfer_id'], ['ledger_transfers.id'], name=op.f('fk_payments_collections_credit_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_payments_collections_party_id_parties')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallets.id'], name=op.f('fk_payments_collections_wallet_id_wallets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_collections')),
    sa.UniqueConstraint('created_by', 'idempotency_key', name='uq_payments_collections_idempotency'),
    sa.UniqueConstraint('seq', name=op.f('uq_payments_collections_seq'))
    )
    op.create_index('ix_payments_collections_open', 'payments_collections', ['last_checked_at'], unique=False, postgresql_where=sa.text("status IN ('initiated', 'action_required', 'processing')"))
    op.create_index('ix_payments_collections_party', 'payments_collections', ['party_id', 'seq'], unique=False)
    op.create_index('ix_payments_collections_wallet', 'payments_collections', ['wallet_id', 'seq'], unique=False)
    op.create_table('payments_payouts',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('wallet_id', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('operator', sa.String(length=16), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('recipient_name', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('provider_reference', sa.Text(), nullable=True),
    sa.Column('hold_id', sa.String(length=64), nullable=False),
    sa.Column('reversal_transfer_id', sa.String(length=64), nullable=True),
    sa.Column('failure_code', sa.String(length=100), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status IN ('succeeded', 'failed', 'reversed')) = (completed_at IS NOT NULL)", name=op.f('ck_payments_payouts_completed_iff_final')),
    sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f('ck_payments_payouts_country_alpha2')),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_payments_payouts_currency_format')),
    sa.CheckConstraint("operator IN ('orange', 'mtn', 'moov', 'wave')", name=op.f('ck_payments_payouts_operator')),
    sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_payments_payouts_phone_e164')),
    sa.CheckConstraint("provider IN ('paystack', 'fedapay', 'stripe')", name=op.f('ck_payments_payouts_provider')),
    sa.CheckConstraint("status IN ('initiated', 'processing', 'succeeded', 'failed', 'reversed')", name=op.f('ck_payments_payouts_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payments_payouts_amount_positive')),
    sa.CheckConstraint('char_length(failure_code) BETWEEN 1 AND 100', name=op.f('ck_payments_payouts_failure_code_length')),
    sa.CheckConstraint('char_length(failure_message) <= 500', name=op.f('ck_payments_payouts_failure_message_length')),
    sa.CheckConstraint('char_length(idempotency_key) BETWEEN 1 AND 255', name=op.f('ck_payments_payouts_idempotency_key_length')),
    sa.CheckConstraint('char_length(provider_reference) BETWEEN 1 AND 200', name=op.f('ck_payments_payouts_provider_reference_length')),
    sa.CheckConstraint('char_length(reason) <= 500', name=op.f('ck_payments_payouts_reason_length')),
    sa.CheckConstraint('char_length(recipient_name) BETWEEN 1 AND 200', name=op.f('ck_payments_payouts_recipient_name_length')),
    sa.ForeignKeyConstraint(['hold_id'], ['ledger_transfers.id'], name=op.f('fk_payments_payouts_hold_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_payments_payouts_party_id_parties')),
    sa.ForeignKeyConstraint(['reversal_transfer_id'], ['ledger_transfers.id'], name=op.f('fk_payments_payouts_reversal_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallets.id'], name=op.f('fk_payments_payouts_wallet_id_wallets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_payouts')),
    sa.UniqueConstraint('created_by', 'idempotency_key', name='uq_payments_payouts_idempotency'),
    sa.UniqueConstraint('hold_id', name=op.f('uq_payments_payouts_hold_id')),
    sa.UniqueConstraint('seq', name=op.f('uq_payments_payouts_seq'))
    )
    op.create_index('ix_payments_payouts_open', 'payments_payouts', ['last_checked_at'], unique=False, postgresql_where=sa.text("status IN ('initiated', 'processing')"))
    op.create_index('ix_payments_payouts_party', 'payments_payouts', ['party_id', 'seq'], unique=False)
    op.create_index('ix_payments_payouts_wallet', 'payments_payouts', ['wallet_id', 'seq'], unique=False)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index('ix_payments_payouts_wallet', table_name='payments_payouts')
    op.drop_index('ix_payments_payouts_party', table_name='payments_payouts')
    op.drop_index('ix_payments_payouts_open', table_name='payments_payouts', postgresql_where=sa.text("status IN ('initiated', 'processing')"))
    op.drop_table('payments_payouts')
    op.drop_index('ix_payments_collections_wallet', table_name='payments_collections')
    op.drop_index('ix_payments_collections_party', table_name='payments_collections')
    op.drop_index('ix_payments_collections_open', table_name='payments_collections', postgresql_where=sa.text("status IN ('initiated', 'action_required', 'processing')"))
    op.drop_table('payments_collections')
    op.drop_index('ix_webhooks_inbound_events_status', table_name='webhooks_inbound_events')
    op.drop_index('ix_webhooks_inbound_events_reference', table_name='webhooks_inbound_events')
    op.drop_table('webhooks_inbound_events')
    op.drop_index('ix_events_type', table_name='events')
    op.drop_index('ix_events_entity', table_name='events')
    op.drop_table('events')
