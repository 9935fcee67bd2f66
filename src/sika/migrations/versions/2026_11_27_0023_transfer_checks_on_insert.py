"""Transfer checks in a trigger: the nine CHECK constraints of a ledger
transfer (amount, accounts, kind, pending id, timeout, lengths, metadata size)
move to the trigger ``ledger_transfers_check_values``, on insert.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27 04:00:00.000000

PostgreSQL parses and plans every CHECK constraint of a table again for each
statement that inserts into it: the nine of ``ledger_transfers`` cost more than
the insert itself, on every call of ``ledger_apply_transfers``. A row
trigger's PL/pgSQL function is compiled once per connection. Transfers are
only ever inserted (``ledger_transfers_append_only`` refuses the rest), so a
trigger on INSERT guards every row, and it refuses what the constraints
refused, with their SQLSTATE (check_violation) and names (sika/ledger/sql/ledger.sql;
docs/ledger.md, "Performance").
"""

from collections.abc import Sequence

from alembic import op

# sika/ledger/sql/ledger.sql, as of this revision.
CHECK_VALUES = r"""
CREATE OR REPLACE FUNCTION ledger_transfers_check_values() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken text;
    rule text;
BEGIN
    IF NOT NEW.amount_minor > 0 THEN
        broken := 'amount_positive';
        rule := 'the amount is positive';
    ELSIF NOT char_length(NEW.code) BETWEEN 1 AND 64 THEN
        broken := 'code_length';
        rule := 'code is 1 to 64 characters';
    ELSIF NOT char_length(NEW.id) BETWEEN 1 AND 64 THEN
        broken := 'id_length';
        rule := 'id is 1 to 64 characters';
    ELSIF NOT NEW.kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending') THEN
        broken := 'kind';
        rule := 'kind is posted, pending, post_pending, void_pending or expire_pending';
    ELSIF NOT octet_length(NEW.metadata::text) <= 4096 THEN
        broken := 'metadata_size';
        rule := 'metadata is 4096 bytes at most';
    ELSIF NOT (NEW.pending_id IS NOT NULL) = (NEW.kind IN ('post_pending', 'void_pending', 'expire_pending')) THEN
        broken := 'pending_id_iff_resolution';
        rule := 'pending_id is given on a post, void or expiry, and only there';
    ELSIF NOT ((NEW.timeout_seconds IS NULL OR NEW.kind = 'pending')
               AND (NEW.expires_at IS NULL) = (NEW.timeout_seconds IS NULL)) THEN
        broken := 'timeout_only_pending';
        rule := 'only a pending transfer has a timeout, and expires_at with it';
    ELSIF NOT NEW.timeout_seconds > 0 THEN
        broken := 'timeout_positive';
        rule := 'the timeout is positive';
    ELSIF NOT NEW.debit_account_id <> NEW.credit_account_id THEN
        broken := 'two_accounts';
        rule := 'it debits one account and credits another';
    ELSE
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "ck_ledger_transfers_%"', TG_TABLE_NAME, broken
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_ledger_transfers_' || broken, TABLE = TG_TABLE_NAME,
              DETAIL = format('Ledger transfer %s: %s.', NEW.id, rule);
END $$;
COMMENT ON FUNCTION ledger_transfers_check_values() IS 'Source: sika/ledger/sql/ledger.sql';
CREATE TRIGGER ledger_transfers_check_values BEFORE INSERT ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_transfers_check_values();
"""

# As 0002 created them.
CONSTRAINTS = {
    "ck_ledger_transfers_amount_positive": "amount_minor > 0",
    "ck_ledger_transfers_code_length": "char_length(code) BETWEEN 1 AND 64",
    "ck_ledger_transfers_id_length": "char_length(id) BETWEEN 1 AND 64",
    "ck_ledger_transfers_kind": "kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending')",
    "ck_ledger_transfers_metadata_size": "octet_length(metadata::text) <= 4096",
    "ck_ledger_transfers_pending_id_iff_resolution": (
        "(pending_id IS NOT NULL) = (kind IN ('post_pending', 'void_pending', 'expire_pending'))"
    ),
    "ck_ledger_transfers_timeout_only_pending": (
        "(timeout_seconds IS NULL OR kind = 'pending') AND (expires_at IS NULL) = (timeout_seconds IS NULL)"
    ),
    "ck_ledger_transfers_timeout_positive": "timeout_seconds > 0",
    "ck_ledger_transfers_two_accounts": "debit_account_id <> credit_account_id",
}

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(CHECK_VALUES)
    op.execute("ALTER TABLE ledger_transfers " + ", ".join(f"DROP CONSTRAINT {name}" for name in CONSTRAINTS))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "ALTER TABLE ledger_transfers "
        + ", ".join(f"ADD CONSTRAINT {name} CHECK ({condition})" for name, condition in CONSTRAINTS.items())
    )
    op.execute("DROP TRIGGER ledger_transfers_check_values ON ledger_transfers")
    op.execute("DROP FUNCTION ledger_transfers_check_values()")
