"""Hold owners: every wallet hold names the domain object whose flow alone resolves it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:12:40.118302
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Holds placed before this revision get the owner they had in fact: the
# payout whose ``hold_id`` names them, else the holds API. Who placed them is
# read from their ``hold.placed`` audit row (written in the transaction that
# placed each), else from the payout; a party is recorded as the placer only
# when that row names the wallet's own party's token.
BACKFILL = r"""
INSERT INTO wallet_holds (id, wallet_id, owner_type, owner_id, placed_by, placed_by_party_id, created_at)
SELECT t.id,
       w.id,
       CASE WHEN p.id IS NULL THEN 'api' ELSE 'payout' END,
       p.id,
       coalesce(a.actor, p.created_by, 'unknown'),
       CASE WHEN a.actor = 'party:' || w.party_id THEN w.party_id END,
       t.created_at
  FROM ledger_transfers t
  JOIN wallets w ON w.account_id = t.debit_account_id
  LEFT JOIN payments_payouts p ON p.hold_id = t.id
  LEFT JOIN LATERAL (
        SELECT e.actor FROM audit_events e
         WHERE e.entity_type = 'hold' AND e.entity_id = t.id AND e.action = 'hold.placed'
         ORDER BY e.seq LIMIT 1
       ) a ON TRUE
 WHERE t.kind = 'pending';
"""

# The owner of a hold is fixed when it is placed: a row is never changed or
# deleted, names a pending transfer out of its own wallet's account, and
# every such transfer has its row by the time its transaction commits (a
# deferred check, so the hold's transfer is written before its row).
GUARDS = r"""
CREATE FUNCTION wallet_holds_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a hold''s owner is never changed or deleted: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER wallet_holds_never_change BEFORE UPDATE OR DELETE ON wallet_holds
    FOR EACH ROW EXECUTE FUNCTION wallet_holds_refuse_change();
CREATE TRIGGER wallet_holds_no_truncate BEFORE TRUNCATE ON wallet_holds
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_holds_refuse_change();

CREATE FUNCTION wallet_holds_check_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM ledger_transfers t JOIN wallets w ON w.account_id = t.debit_account_id
         WHERE t.id = NEW.id AND t.kind = 'pending' AND w.id = NEW.wallet_id
    ) THEN
        RAISE EXCEPTION 'wallet hold %: not a pending transfer out of wallet %', NEW.id, NEW.wallet_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER wallet_holds_name_a_hold BEFORE INSERT ON wallet_holds
    FOR EACH ROW EXECUTE FUNCTION wallet_holds_check_transfer();

CREATE FUNCTION wallets_check_hold_owned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM wallets WHERE account_id = NEW.debit_account_id)
       AND NOT EXISTS (SELECT 1 FROM wallet_holds WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'hold % on wallet account % has no owner', NEW.id, NEW.debit_account_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER wallets_pending_has_owner AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'pending')
    EXECUTE FUNCTION wallets_check_hold_owned();
"""

DROP_GUARDS = """
DROP TRIGGER wallets_pending_has_owner ON ledger_transfers;
DROP FUNCTION wallets_check_hold_owned();
DROP TRIGGER wallet_holds_name_a_hold ON wallet_holds;
DROP FUNCTION wallet_holds_check_transfer();
DROP TRIGGER wallet_holds_no_truncate ON wallet_holds;
DROP TRIGGER wallet_holds_never_change ON wallet_holds;
DROP FUNCTION wallet_holds_refuse_change();
"""

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('wallet_holds',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('wallet_id', sa.String(length=64), nullable=False),
    sa.Column('owner_type', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('placed_by', sa.String(length=100), nullable=False),
    sa.Column('placed_by_party_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(owner_type = 'api') = (owner_id IS NULL)", name=op.f('ck_wallet_holds_owner_id_iff_domain')),
    sa.CheckConstraint("owner_type IN ('api', 'payout')", name=op.f('ck_wallet_holds_owner_type')),
    sa.CheckConstraint('char_length(placed_by) BETWEEN 1 AND 100', name=op.f('ck_wallet_holds_placed_by_length')),
    sa.ForeignKeyConstraint(['id'], ['ledger_transfers.id'], name=op.f('fk_wallet_holds_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['placed_by_party_id'], ['parties.id'], name=op.f('fk_wallet_holds_placed_by_party_id_parties')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallets.id'], name=op.f('fk_wallet_holds_wallet_id_wallets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_holds'))
    )
    # A hold placed between the backfill and the guards would have no owner:
    # take now the lock the guard's trigger needs anyway, so none is placed
    # until this commits.
    op.execute("LOCK TABLE ledger_transfers IN SHARE ROW EXCLUSIVE MODE")
    op.execute(BACKFILL)
    op.execute(GUARDS)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(DROP_GUARDS)
    op.drop_table('wallet_holds')
