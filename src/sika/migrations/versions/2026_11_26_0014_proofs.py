"""Proofs of delivery: proof_rules and proofs (``sika.proofs``), and the escrow's
``escrow_milestones.proof_required`` (its minute job waits for a proof where a rule
requires one; false for every milestone there is).

Both tables belong to their escrow's platform (composite foreign keys). A photo's
sha256 is unique within its platform; the files themselves live outside the
database (``PROOF_FILES_DIR``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 18:40:00.000000
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column('escrow_milestones', sa.Column('proof_required', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('proof_rules',
    sa.Column('escrow_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('latitude', sa.Double(), nullable=True),
    sa.Column('longitude', sa.Double(), nullable=True),
    sa.Column('radius_m', sa.Integer(), nullable=True),
    sa.Column('max_age_seconds', sa.Integer(), nullable=True),
    sa.Column('auto_approve', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('latitude BETWEEN -90 AND 90', name=op.f('ck_proof_rules_latitude_range')),
    sa.CheckConstraint('longitude BETWEEN -180 AND 180', name=op.f('ck_proof_rules_longitude_range')),
    sa.CheckConstraint('radius_m > 0', name=op.f('ck_proof_rules_radius_positive')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL) = (radius_m IS NULL)', name=op.f('ck_proof_rules_geofence_whole')),
    sa.CheckConstraint('max_age_seconds > 0', name=op.f('ck_proof_rules_max_age_positive')),
    sa.CheckConstraint('NOT auto_approve OR latitude IS NOT NULL', name=op.f('ck_proof_rules_auto_approve_needs_geofence')),
    sa.CheckConstraint('char_length(created_by) BETWEEN 1 AND 100', name=op.f('ck_proof_rules_created_by_length')),
    sa.ForeignKeyConstraint(['escrow_id', 'platform_id'], ['escrows.id', 'escrows.platform_id'], name='fk_proof_rules_escrow'),
    sa.ForeignKeyConstraint(['escrow_id', 'number'], ['escrow_milestones.escrow_id', 'escrow_milestones.number'], name='fk_proof_rules_milestone'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_proof_rules_platform_id_platforms')),
    sa.PrimaryKeyConstraint('escrow_id', 'number', name=op.f('pk_proof_rules'))
    )
    op.create_table('proofs',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('escrow_id', sa.String(length=64), nullable=False),
    sa.Column('milestone_number', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checks', JSONB(), nullable=False),
    sa.Column('reasons', JSONB(), nullable=False),
    sa.Column('exif', JSONB(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('latitude', sa.Double(), nullable=True),
    sa.Column('longitude', sa.Double(), nullable=True),
    sa.Column('distance_m', sa.Double(), nullable=True),
    sa.Column('released', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending_review', 'approved', 'rejected')", name=op.f('ck_proofs_status')),
    sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png', 'image/heic')", name=op.f('ck_proofs_content_type')),
    sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_proofs_sha256_format')),
    sa.CheckConstraint('size_bytes > 0 AND width > 0 AND height > 0', name=op.f('ck_proofs_sizes_positive')),
    sa.CheckConstraint('char_length(filename) <= 255', name=op.f('ck_proofs_filename_length')),
    sa.CheckConstraint("jsonb_typeof(checks) = 'array'", name=op.f('ck_proofs_checks_array')),
    sa.CheckConstraint("jsonb_typeof(reasons) = 'array'", name=op.f('ck_proofs_reasons_array')),
    sa.CheckConstraint("jsonb_typeof(exif) = 'object'", name=op.f('ck_proofs_exif_object')),
    sa.CheckConstraint('char_length(decision_reason) BETWEEN 1 AND 1000', name=op.f('ck_proofs_decision_reason_length')),
    sa.CheckConstraint("(status = 'pending_review') = (decided_at IS NULL)", name=op.f('ck_proofs_decided_iff_not_pending')),
    sa.CheckConstraint("NOT released OR status = 'approved'", name=op.f('ck_proofs_released_if_approved')),
    sa.ForeignKeyConstraint(['escrow_id', 'platform_id'], ['escrows.id', 'escrows.platform_id'], name='fk_proofs_escrow'),
    sa.ForeignKeyConstraint(['escrow_id', 'milestone_number'], ['escrow_milestones.escrow_id', 'escrow_milestones.number'], name='fk_proofs_milestone'),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrows.id'], name=op.f('fk_proofs_escrow_id_escrows')),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_proofs_platform_id_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proofs')),
    sa.UniqueConstraint('platform_id', 'sha256', name='uq_proofs_platform_sha256'),
    sa.UniqueConstraint('seq', name=op.f('uq_proofs_seq'))
    )
    op.create_index('ix_proofs_milestone', 'proofs', ['escrow_id', 'milestone_number', 'seq'], unique=False)
    op.create_index('ix_proofs_pending', 'proofs', ['seq'], unique=False, postgresql_where=sa.text("status = 'pending_review'"))
    op.create_index('uq_proofs_released_once', 'proofs', ['escrow_id', 'milestone_number'], unique=True, postgresql_where=sa.text('released'))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index('uq_proofs_released_once', table_name='proofs', postgresql_where=sa.text('released'))
    op.drop_index('ix_proofs_pending', table_name='proofs', postgresql_where=sa.text("status = 'pending_review'"))
    op.drop_index('ix_proofs_milestone', table_name='proofs')
    op.drop_table('proofs')
    op.drop_table('proof_rules')
    op.drop_column('escrow_milestones', 'proof_required')
