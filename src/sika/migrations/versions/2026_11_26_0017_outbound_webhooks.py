"""Outbound webhooks: outbound_endpoints and outbound_deliveries (``sika.outbound``),
and alert_notices (``sika.alerts.notices``): what was told to the operators.

Both belong to a platform; a delivery's platform is its endpoint's (composite
foreign key), and goes with it when the endpoint is deleted. The endpoint's
signing secret is stored encrypted; nothing here holds one in the clear.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 18:30:00.000000
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('outbound_endpoints',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('event_types', JSONB(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('secret_sealed', sa.Text(), nullable=False),
    sa.Column('previous_secret_sealed', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fanned_out_seq', sa.BigInteger(), nullable=False),
    sa.Column('horizon_seq', sa.BigInteger(), nullable=True),
    sa.Column('horizon_xid', sa.BigInteger(), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('char_length(url) BETWEEN 1 AND 2000', name=op.f('ck_outbound_endpoints_url_length')),
    sa.CheckConstraint('char_length(description) <= 500', name=op.f('ck_outbound_endpoints_description_length')),
    sa.CheckConstraint("jsonb_typeof(event_types) = 'array'", name=op.f('ck_outbound_endpoints_event_types_array')),
    sa.CheckConstraint('char_length(disabled_reason) BETWEEN 1 AND 200', name=op.f('ck_outbound_endpoints_disabled_reason_length')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_outbound_endpoints_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_endpoints')),
    sa.UniqueConstraint('id', 'platform_id', name='uq_outbound_endpoints_id_platform_id'),
    sa.UniqueConstraint('seq', name=op.f('uq_outbound_endpoints_seq'))
    )
    op.create_index('ix_outbound_endpoints_platform', 'outbound_endpoints', ['platform_id', 'seq'], unique=False)
    op.create_table('outbound_deliveries',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_latency_ms', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_response', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_outbound_deliveries_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbound_deliveries_attempts_not_negative')),
    sa.CheckConstraint('char_length(last_error) <= 500', name=op.f('ck_outbound_deliveries_last_error_length')),
    sa.CheckConstraint('char_length(last_response) <= 1000', name=op.f('ck_outbound_deliveries_last_response_length')),
    sa.ForeignKeyConstraint(['endpoint_id', 'platform_id'], ['outbound_endpoints.id', 'outbound_endpoints.platform_id'], name='fk_outbound_deliveries_endpoint_platform', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_outbound_deliveries_event_id_events')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_outbound_deliveries_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_outbound_deliveries_endpoint_event'),
    sa.UniqueConstraint('seq', name=op.f('uq_outbound_deliveries_seq'))
    )
    op.create_index('ix_outbound_deliveries_endpoint', 'outbound_deliveries', ['endpoint_id', 'seq'], unique=False)
    op.create_index('ix_outbound_deliveries_platform', 'outbound_deliveries', ['platform_id', 'seq'], unique=False)
    op.create_index('ix_outbound_deliveries_entity', 'outbound_deliveries', ['entity_id', 'seq'], unique=False)
    op.create_index('ix_outbound_deliveries_object', 'outbound_deliveries', ['endpoint_id', 'entity_id', 'event_seq'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_outbound_deliveries_due', 'outbound_deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('alert_notices',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('alert_id', sa.String(length=64), nullable=True),
    sa.Column('platform_id', sa.String(length=64), nullable=True),
    sa.Column('sent', sa.Boolean(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('char_length(key) BETWEEN 1 AND 200', name=op.f('ck_alert_notices_key_length')),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_notices_alert_id_alerts')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_alert_notices_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_notices')),
    sa.UniqueConstraint('alert_id', name=op.f('uq_alert_notices_alert_id')),
    sa.UniqueConstraint('seq', name=op.f('uq_alert_notices_seq'))
    )
    op.create_index('ix_alert_notices_key', 'alert_notices', ['key', 'sent_at'], unique=False)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index('ix_alert_notices_key', table_name='alert_notices')
    op.drop_table('alert_notices')
    op.drop_index('ix_outbound_deliveries_due', table_name='outbound_deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_outbound_deliveries_object', table_name='outbound_deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_outbound_deliveries_platform', table_name='outbound_deliveries')
    op.drop_index('ix_outbound_deliveries_entity', table_name='outbound_deliveries')
    op.drop_index('ix_outbound_deliveries_endpoint', table_name='outbound_deliveries')
    op.drop_table('outbound_deliveries')
    op.drop_index('ix_outbound_endpoints_platform', table_name='outbound_endpoints')
    op.drop_table('outbound_endpoints')
