"""Account checks on change: the format rules of a ledger account's currency,
kind and owner move from CHECK constraints to a trigger on those columns.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 02:00:00.000000

PostgreSQL prepares every CHECK constraint of a table again for each
statement that updates it, whichever columns the statement sets: the four
about ``currency``, ``kind`` (two regular expressions), ``owner_type`` and
``owner_id`` were about a quarter of the backend's time of one posted
transfer on ``ledger_apply_transfers``' short path, which only sets the
totals, ``version`` and ``updated_at``. ``ledger_accounts_check_values``
(sika/ledger/sql/ledger.sql) fires on an insert and on an update that sets one
of those columns, and refuses what the constraints refused, with their
SQLSTATE (check_violation) and names (docs/ledger.md, "Performance").
"""

from collections.abc import Sequence

from alembic import op

# sika/ledger/sql/ledger.sql, as of this revision.
CHECK_VALUES = r"""
CREATE OR REPLACE FUNCTION ledger_accounts_check_values() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken text;
    rule text;
BEGIN
    IF NEW.currency !~ '^[A-Z]{3}$' THEN
        broken := 'currency_format';
        rule := 'currency is three capital letters';
    ELSIF NEW.kind !~ '^[a-z][a-z0-9_.]{0,49}$' THEN
        broken := 'kind_format';
        rule := 'kind is a lower-case letter then up to 49 lower-case letters, digits, "_" or "."';
    ELSIF NOT char_length(NEW.owner_type) BETWEEN 1 AND 50 THEN
        broken := 'owner_type_length';
        rule := 'owner_type is 1 to 50 characters';
    ELSIF (NEW.owner_type IS NULL) <> (NEW.owner_id IS NULL) THEN
        broken := 'owner_whole';
        rule := 'owner_type and owner_id are both given or both absent';
    ELSE
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "ck_ledger_accounts_%"', TG_TABLE_NAME, broken
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_ledger_accounts_' || broken, TABLE = TG_TABLE_NAME,
              DETAIL = format('Ledger account %s: %s.', NEW.id, rule);
END $$;
COMMENT ON FUNCTION ledger_accounts_check_values() IS 'Source: sika/ledger/sql/ledger.sql';
CREATE TRIGGER ledger_accounts_check_values BEFORE INSERT OR UPDATE OF currency, kind, owner_type, owner_id
    ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION ledger_accounts_check_values();
"""

# As 0002 created them.
CONSTRAINTS = {
    "ck_ledger_accounts_currency_format": "currency ~ '^[A-Z]{3}$'",
    "ck_ledger_accounts_kind_format": "kind ~ '^[a-z][a-z0-9_.]{0,49}$'",
    "ck_ledger_accounts_owner_whole": "(owner_type IS NULL) = (owner_id IS NULL)",
    "ck_ledger_accounts_owner_type_length": "char_length(owner_type) BETWEEN 1 AND 50",
}

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail fast and retry the deploy.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(CHECK_VALUES)
    op.execute("ALTER TABLE ledger_accounts " + ", ".join(f"DROP CONSTRAINT {name}" for name in CONSTRAINTS))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "ALTER TABLE ledger_accounts "
        + ", ".join(f"ADD CONSTRAINT {name} CHECK ({condition})" for name, condition in CONSTRAINTS.items())
    )
    op.execute("DROP TRIGGER ledger_accounts_check_values ON ledger_accounts")
    op.execute("DROP FUNCTION ledger_accounts_check_values()")
