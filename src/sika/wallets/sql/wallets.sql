-- The wallets' database functions and triggers, as they stand: the text every
-- database migrated to head runs. How to change one: sika/ledger/sql/ledger.sql
-- (the same rule for every domain's sql file; docs/ledger.md, "The ledger's SQL").
--
-- Some of these triggers sit on the ledger's tables (ledger_accounts,
-- ledger_transfers), because the rule they keep is about the ledger's rows:
-- a wallet account's pending totals must equal its open holds, and only the
-- ledger's writes can break that. docs/decisions/0004 says when a domain may
-- do this and how: named after the domain, kept in the domain's own file,
-- refusing (never changing) the ledger's rows, and narrowed by a WHEN clause
-- (the wallet account kinds 'wallet' and 'wallet.holds' of
-- sika.wallets.models, or pending transfers) so that posted transfers, the
-- ledger's hot path, and other accounts' totals pay no call for them.

-- A wallet's balance is its account's credits less debits and its held money
-- is the account's pending debits. The ledger's CHECK constraint already
-- refuses a negative balance and held money above the balance (posted plus
-- pending debits may not pass credits); these guards refuse the rest of the
-- drift the old health view hunted for, whatever path the write takes:
--
-- * a wallet account's pending totals must equal its open pending transfers,
--   checked at commit (so the ledger may update totals before inserting the
--   transfers that explain them) whenever either side changes: new totals
--   with no transfer, or a pending transfer or resolution with no totals. The
--   open holds are listed in wallet_open_holds, kept by a trigger on the
--   transfers and written by nothing else, so the check costs the account's
--   open holds, not its history;
-- * a wallet account keeps its kind and its overdraft protection for good;
-- * a wallet row points, for good, at two accounts of the right kind, owned by
--   its party, overdraft-protected, in its currency (the foreign keys).
CREATE OR REPLACE FUNCTION wallets_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallets are never changed or deleted: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION wallets_refuse_change() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallets_never_change BEFORE UPDATE OR DELETE ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_refuse_change();
CREATE TRIGGER wallets_no_truncate BEFORE TRUNCATE ON wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_refuse_change();

CREATE OR REPLACE FUNCTION wallets_check_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
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
COMMENT ON FUNCTION wallets_check_accounts() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallets_accounts_fit BEFORE INSERT ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_check_accounts();

CREATE OR REPLACE FUNCTION wallets_guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger account %: a wallet account keeps its kind and overdraft protection', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
COMMENT ON FUNCTION wallets_guard_account() IS 'Source: sika/wallets/sql/wallets.sql';
-- Only a statement that sets one of these columns can change it: naming them
-- spares every other update of the ledger's accounts the WHEN clause, which
-- PostgreSQL prepares anew for each statement.
CREATE TRIGGER wallets_account_kind_and_flags
    BEFORE UPDATE OF kind, debits_must_not_exceed_credits, credits_must_not_exceed_debits ON ledger_accounts
    FOR EACH ROW
    WHEN (OLD.kind IN ('wallet', 'wallet.holds') AND (
        NEW.kind IS DISTINCT FROM OLD.kind
        OR NEW.debits_must_not_exceed_credits IS DISTINCT FROM OLD.debits_must_not_exceed_credits
        OR NEW.credits_must_not_exceed_debits IS DISTINCT FROM OLD.credits_must_not_exceed_debits))
    EXECUTE FUNCTION wallets_guard_account();

-- The open holds of wallet accounts, kept by the transfers themselves: a
-- pending transfer adds a row per wallet account it touches, its post, void
-- or expiry removes them. Nothing else may write the list.
CREATE OR REPLACE FUNCTION wallets_track_open_holds() RETURNS trigger LANGUAGE plpgsql AS $$
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
COMMENT ON FUNCTION wallets_track_open_holds() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallets_open_holds_follow_transfers AFTER INSERT ON ledger_transfers FOR EACH ROW
    WHEN (NEW.kind <> 'posted')
    EXECUTE FUNCTION wallets_track_open_holds();

CREATE OR REPLACE FUNCTION wallets_open_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Depth 1 is this trigger on a statement sent by a client; the
    -- transfers' trigger writes from depth 2.
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'wallet_open_holds follows the ledger transfers: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION wallets_open_holds_guard() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallets_open_holds_written_by_transfers BEFORE INSERT OR UPDATE OR DELETE ON wallet_open_holds
    FOR EACH ROW EXECUTE FUNCTION wallets_open_holds_guard();
CREATE TRIGGER wallets_open_holds_no_truncate BEFORE TRUNCATE ON wallet_open_holds
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_open_holds_guard();

CREATE OR REPLACE FUNCTION wallets_check_open_holds(p_account_id text) RETURNS void LANGUAGE plpgsql AS $$
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
COMMENT ON FUNCTION wallets_check_open_holds(text) IS 'Source: sika/wallets/sql/wallets.sql';

-- Both run at commit, once the ledger has written the totals and the
-- transfers that explain them, and read the rows as they stand then.
CREATE OR REPLACE FUNCTION wallets_account_pending_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM wallets_check_open_holds(NEW.id);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION wallets_account_pending_changed() IS 'Source: sika/wallets/sql/wallets.sql';
-- Named columns, as above: the ledger's update for one posted transfer sets no pending total.
CREATE CONSTRAINT TRIGGER wallets_pending_totals_match_holds
    AFTER UPDATE OF debits_pending, credits_pending ON ledger_accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind IN ('wallet', 'wallet.holds') AND (
        NEW.debits_pending IS DISTINCT FROM OLD.debits_pending
        OR NEW.credits_pending IS DISTINCT FROM OLD.credits_pending))
    EXECUTE FUNCTION wallets_account_pending_changed();

CREATE OR REPLACE FUNCTION wallets_hold_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM wallets_check_open_holds(NEW.debit_account_id);
    PERFORM wallets_check_open_holds(NEW.credit_account_id);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION wallets_hold_written() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE CONSTRAINT TRIGGER wallets_holds_match_pending_totals AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind <> 'posted')
    EXECUTE FUNCTION wallets_hold_written();

-- Hold owners. The owner of a hold is fixed when it is placed: a row is never
-- changed or deleted, names a pending transfer out of its own wallet's
-- account, and every such transfer has its row by the time its transaction
-- commits (a deferred check, so the hold's transfer is written before its row).
CREATE OR REPLACE FUNCTION wallet_holds_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a hold''s owner is never changed or deleted: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION wallet_holds_refuse_change() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallet_holds_never_change BEFORE UPDATE OR DELETE ON wallet_holds
    FOR EACH ROW EXECUTE FUNCTION wallet_holds_refuse_change();
CREATE TRIGGER wallet_holds_no_truncate BEFORE TRUNCATE ON wallet_holds
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_holds_refuse_change();

CREATE OR REPLACE FUNCTION wallet_holds_check_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
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
COMMENT ON FUNCTION wallet_holds_check_transfer() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE TRIGGER wallet_holds_name_a_hold BEFORE INSERT ON wallet_holds
    FOR EACH ROW EXECUTE FUNCTION wallet_holds_check_transfer();

CREATE OR REPLACE FUNCTION wallets_check_hold_owned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM wallets WHERE account_id = NEW.debit_account_id)
       AND NOT EXISTS (SELECT 1 FROM wallet_holds WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'hold % on wallet account % has no owner', NEW.id, NEW.debit_account_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION wallets_check_hold_owned() IS 'Source: sika/wallets/sql/wallets.sql';
CREATE CONSTRAINT TRIGGER wallets_pending_has_owner AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'pending')
    EXECUTE FUNCTION wallets_check_hold_owned();
