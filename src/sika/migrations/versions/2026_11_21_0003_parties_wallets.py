"""Parties and wallets, and the database guards that keep a wallet's money honest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:44:56.669927
"""

# ruff: noqa: E501
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A wallet's balance is its account's credits less debits and its held money
# is the account's pending debits. The ledger's CHECK constraint already
# refuses a negative balance and held money above the balance (posted plus
# pending debits may not pass credits); these guards refuse the rest of the
# drift the old health view hunted for, whatever path the write takes:
#
# * a wallet account's pending totals must equal its open pending transfers,
#   checked at commit (so the ledger may update totals before inserting the
#   transfers that explain them) whenever either side changes: new totals
#   with no transfer, or a pending transfer or resolution with no totals. The
#   open holds are listed in ``wallet_open_holds``, kept by a trigger on the
#   transfers and written by nothing else, so the check costs the account's
#   open holds, not its history;
# * a wallet account keeps its kind and its overdraft protection for good;
# * a wallet row points, for good, at two accounts of the right kind, owned by
#   its party, overdraft-protected, in its currency (the foreign keys).
GUARDS = r"""
CREATE FUNCTION wallets_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallets are never changed or deleted: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER wallets_never_change BEFORE UPDATE OR DELETE ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_refuse_change();
CREATE TRIGGER wallets_no_truncate BEFORE TRUNCATE ON wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_refuse_change();

CREATE FUNCTION wallets_check_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM ledger_accounts
         WHERE id = NEW.account_id AND kind = 'wallet' AND debits_must_not_exceed_credits
           AND owner_type = 'party' AND owner_id = NEW.party_id
    ) OR NOT EXISTS (
        SELECT 1 FROM ledger_accounts
         WHERE id = NEW.holds_account_id AND kind = 'wallet.holds' AND debits_must_not_exceed_credits
           AND owner_type = 'party' AND owner_id = NEW.party_id
    ) THEN
        RAISE EXCEPTION 'wallet %: its accounts must be an overdraft-protected wallet and holds account of party %',
            NEW.id, NEW.party_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER wallets_accounts_fit BEFORE INSERT ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_check_accounts();

CREATE FUNCTION wallets_guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger account %: a wallet account keeps its kind and overdraft protection', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER wallets_account_kind_and_flags BEFORE UPDATE ON ledger_accounts FOR EACH ROW
    WHEN (OLD.kind IN ('wallet', 'wallet.holds') AND (
        NEW.kind IS DISTINCT FROM OLD.kind
        OR NEW.debits_must_not_exceed_credits IS DISTINCT FROM OLD.debits_must_not_exceed_credits
        OR NEW.credits_must_not_exceed_debits IS DISTINCT FROM OLD.credits_must_not_exceed_debits))
    EXECUTE FUNCTION wallets_guard_account();

-- The open holds of wallet accounts, kept by the transfers themselves: a
-- pending transfer adds a row per wallet account it touches, its post, void
-- or expiry removes them. Nothing else may write the list.
CREATE FUNCTION wallets_track_open_holds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'pending' THEN
        INSERT INTO wallet_open_holds (account_id, transfer_id)
        SELECT a.id, NEW.id FROM ledger_accounts a
         WHERE a.id IN (NEW.debit_account_id, NEW.credit_account_id) AND a.kind IN ('wallet', 'wallet.holds');
    ELSE
        DELETE FROM wallet_open_holds WHERE transfer_id = NEW.pending_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER wallets_open_holds_follow_transfers AFTER INSERT ON ledger_transfers FOR EACH ROW
    WHEN (NEW.kind <> 'posted')
    EXECUTE FUNCTION wallets_track_open_holds();

CREATE FUNCTION wallets_open_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Depth 1 is this trigger on a statement sent by a client; the
    -- transfers' trigger writes from depth 2.
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'wallet_open_holds follows the ledger transfers: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER wallets_open_holds_written_by_transfers BEFORE INSERT OR UPDATE OR DELETE ON wallet_open_holds
    FOR EACH ROW EXECUTE FUNCTION wallets_open_holds_guard();
CREATE TRIGGER wallets_open_holds_no_truncate BEFORE TRUNCATE ON wallet_open_holds
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_open_holds_guard();

CREATE FUNCTION wallets_check_open_holds(p_account_id text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    account ledger_accounts%ROWTYPE;
    open_debits numeric;
    open_credits numeric;
BEGIN
    SELECT * INTO account FROM ledger_accounts WHERE id = p_account_id;
    IF account.kind IS NULL OR account.kind NOT IN ('wallet', 'wallet.holds') THEN
        RETURN;
    END IF;
    SELECT coalesce(sum(t.amount_minor) FILTER (WHERE t.debit_account_id = account.id), 0),
           coalesce(sum(t.amount_minor) FILTER (WHERE t.credit_account_id = account.id), 0)
      INTO open_debits, open_credits
      FROM wallet_open_holds h JOIN ledger_transfers t ON t.id = h.transfer_id
     WHERE h.account_id = account.id;
    IF account.debits_pending <> open_debits OR account.credits_pending <> open_credits THEN
        RAISE EXCEPTION 'wallet account %: pending totals (debits %, credits %) differ from its open holds (debits %, credits %)',
            account.id, account.debits_pending, account.credits_pending, open_debits, open_credits
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
END $$;

-- Both run at commit, once the ledger has written the totals and the
-- transfers that explain them, and read the rows as they stand then.
CREATE FUNCTION wallets_account_pending_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM wallets_check_open_holds(NEW.id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER wallets_pending_totals_match_holds AFTER UPDATE ON ledger_accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind IN ('wallet', 'wallet.holds') AND (
        NEW.debits_pending IS DISTINCT FROM OLD.debits_pending
        OR NEW.credits_pending IS DISTINCT FROM OLD.credits_pending))
    EXECUTE FUNCTION wallets_account_pending_changed();

CREATE FUNCTION wallets_hold_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM wallets_check_open_holds(NEW.debit_account_id);
    PERFORM wallets_check_open_holds(NEW.credit_account_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER wallets_holds_match_pending_totals AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind <> 'posted')
    EXECUTE FUNCTION wallets_hold_written();
"""

DROP_GUARDS = """
DROP TRIGGER wallets_holds_match_pending_totals ON ledger_transfers;
DROP FUNCTION wallets_hold_written();
DROP TRIGGER wallets_pending_totals_match_holds ON ledger_accounts;
DROP FUNCTION wallets_account_pending_changed();
DROP FUNCTION wallets_check_open_holds(text);
DROP TRIGGER wallets_open_holds_no_truncate ON wallet_open_holds;
DROP TRIGGER wallets_open_holds_written_by_transfers ON wallet_open_holds;
DROP FUNCTION wallets_open_holds_guard();
DROP TRIGGER wallets_open_holds_follow_transfers ON ledger_transfers;
DROP FUNCTION wallets_track_open_holds();
DROP TRIGGER wallets_account_kind_and_flags ON ledger_accounts;
DROP FUNCTION wallets_guard_account();
DROP TRIGGER wallets_accounts_fit ON wallets;
DROP FUNCTION wallets_check_accounts();
DROP TRIGGER wallets_never_change ON wallets;
DROP TRIGGER wallets_no_truncate ON wallets;
DROP FUNCTION wallets_refuse_change();
"""

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('parties',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f('ck_parties_country_alpha2')),
    sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_parties_phone_e164')),
    sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f('ck_parties_status')),
    sa.CheckConstraint("type IN ('individual', 'business')", name=op.f('ck_parties_type')),
    sa.CheckConstraint('char_length(display_name) BETWEEN 1 AND 200', name=op.f('ck_parties_display_name_length')),
    sa.CheckConstraint('char_length(email) BETWEEN 3 AND 254', name=op.f('ck_parties_email_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parties')),
    sa.UniqueConstraint('seq', name=op.f('uq_parties_seq'))
    )
    op.create_table('wallets',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('holds_account_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_wallets_currency_format')),
    sa.CheckConstraint('account_id <> holds_account_id', name=op.f('ck_wallets_two_accounts')),
    sa.ForeignKeyConstraint(['account_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.currency'], name='fk_wallets_account'),
    sa.ForeignKeyConstraint(['holds_account_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.currency'], name='fk_wallets_holds_account'),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_wallets_party_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallets')),
    sa.UniqueConstraint('account_id', name=op.f('uq_wallets_account_id')),
    sa.UniqueConstraint('holds_account_id', name=op.f('uq_wallets_holds_account_id')),
    sa.UniqueConstraint('party_id', 'currency', name='uq_wallets_party_id_currency'),
    sa.UniqueConstraint('seq', name=op.f('uq_wallets_seq'))
    )
    # No pending transfer can touch a wallet account before this revision
    # (their kinds start here), so the open-holds list starts empty and true.
    op.create_table('wallet_open_holds',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('transfer_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_wallet_open_holds_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_wallet_open_holds_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('account_id', 'transfer_id', name=op.f('pk_wallet_open_holds'))
    )
    op.create_index('ix_wallet_open_holds_transfer_id', 'wallet_open_holds', ['transfer_id'], unique=False)
    op.execute(GUARDS)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(DROP_GUARDS)
    op.drop_index('ix_wallet_open_holds_transfer_id', table_name='wallet_open_holds')
    op.drop_table('wallet_open_holds')
    op.drop_table('wallets')
    op.drop_table('parties')
