"""Collection card token: the provider's token for the card, kept so reconciliation
can replay a card create whose answer was lost with the very same parameters.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    # Nullable without a default: a catalog-only change, no table rewrite.
    op.add_column("payments_collections", sa.Column("card_token", sa.Text(), nullable=True))
    # NOT VALID then VALIDATE: the check is added without holding a write lock while rows are scanned.
    op.execute(
        "ALTER TABLE payments_collections ADD CONSTRAINT ck_payments_collections_card_token_length "
        "CHECK (char_length(card_token) BETWEEN 1 AND 200) NOT VALID"
    )
    op.execute("ALTER TABLE payments_collections VALIDATE CONSTRAINT ck_payments_collections_card_token_length")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("payments_collections", "card_token")
