-- The ledger's database functions and triggers, as they stand: the text every
-- database migrated to head runs. Read them here, not in the migrations.
--
-- Migrations install this text; they do not read this file (a migration is
-- history, and replays the same whatever this file says later). To change a
-- function or trigger: edit it here, then add a migration that applies the
-- new text and whose downgrade restores the old (copy both: the old one is in
-- the last migration that applied it). tests/ledger/test_sql_files.py fails
-- while a database migrated to head differs from these files, and when a
-- downgrade does not give back exactly what the step before had.
-- (docs/ledger.md, "The ledger's SQL"; docs/decisions/0004.)

-- Transfers are history: the database itself refuses to rewrite them. An
-- account is closed, never deleted, and once closed its totals never move;
-- its id and currency never change (transfers are bound to them), nor does
-- whether a domain service manages it (the raw API's refusals rest on that).
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION ledger_refuse_change() IS 'Source: sika/ledger/sql/ledger.sql';
CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_never_deleted BEFORE DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE OR REPLACE FUNCTION ledger_accounts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.currency <> OLD.currency OR NEW.is_managed <> OLD.is_managed THEN
        RAISE EXCEPTION 'ledger account %: id, currency and is_managed never change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.closed_at IS NOT NULL AND (
        NEW.closed_at IS NULL
        OR (NEW.debits_posted, NEW.credits_posted, NEW.debits_pending, NEW.credits_pending)
           IS DISTINCT FROM (OLD.debits_posted, OLD.credits_posted, OLD.debits_pending, OLD.credits_pending)
    ) THEN
        RAISE EXCEPTION 'ledger account % is closed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION ledger_accounts_guard() IS 'Source: sika/ledger/sql/ledger.sql';
-- Two triggers run the guard, so that the common update (the totals of an
-- open account) pays neither a function call nor more than one small WHEN
-- clause, which PostgreSQL prepares anew for every statement: the first fires
-- only for a statement that sets id, currency or is_managed (none can change
-- otherwise), the second for any update of a closed account.
CREATE TRIGGER ledger_accounts_guard BEFORE UPDATE OF id, currency, is_managed ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_guard();
CREATE TRIGGER ledger_accounts_closed_guard BEFORE UPDATE ON ledger_accounts FOR EACH ROW
    WHEN (OLD.closed_at IS NOT NULL)
    EXECUTE FUNCTION ledger_accounts_guard();

-- An account's currency, kind and owner are well formed. These were CHECK
-- constraints, which PostgreSQL prepares again for every statement that
-- updates the table, a transfer's too, though a transfer never sets these
-- columns: a trigger on exactly them costs a transfer nothing. Each refusal
-- is the constraint's (same SQLSTATE, constraint and table names), and a
-- NULL passes as it passed a CHECK (the columns' NOT NULL refuses it).
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

-- A transfer is well formed: a positive amount between two accounts, a known
-- kind, a pending id exactly on a resolution, a timeout only on a pending
-- transfer, ids and code not empty, metadata of 4 KiB at most. These were
-- CHECK constraints, which PostgreSQL parses and plans again for every
-- statement that inserts a transfer (more than the insert itself costs);
-- a row trigger's function is compiled once per connection. Transfers are
-- only ever inserted (ledger_transfers_append_only), so a trigger on INSERT
-- guards every row. Each refusal is the constraint's (same SQLSTATE,
-- constraint and table names), in the order PostgreSQL checked them (by
-- name), and a NULL passes as it passed a CHECK.
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

-- Checked at commit: a resolution must match the pending transfer it resolves
-- (same accounts and currency; a void or expiry releases the whole amount, a
-- post at most that). The application checks the same before writing; this
-- is the backstop for any path that might not.
CREATE OR REPLACE FUNCTION ledger_transfers_check_resolution() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p ledger_transfers%ROWTYPE;
BEGIN
    SELECT * INTO p FROM ledger_transfers WHERE id = NEW.pending_id;
    IF p.kind IS DISTINCT FROM 'pending'
       OR p.debit_account_id <> NEW.debit_account_id
       OR p.credit_account_id <> NEW.credit_account_id
       OR p.currency <> NEW.currency
       OR NEW.amount_minor > p.amount_minor
       OR (NEW.kind <> 'post_pending' AND NEW.amount_minor <> p.amount_minor) THEN
        RAISE EXCEPTION 'ledger transfer % does not match the pending transfer % it resolves',
            NEW.id, NEW.pending_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ledger_transfers_check_resolution() IS 'Source: sika/ledger/sql/ledger.sql';
CREATE CONSTRAINT TRIGGER ledger_transfers_resolution_matches AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.pending_id IS NOT NULL)
    EXECUTE FUNCTION ledger_transfers_check_resolution();

-- Applies a group of transfers in one statement: the only code that moves
-- money. Both ways into the ledger call it (inside a caller's transaction,
-- and the grouped path that runs it as a whole autocommit transaction).
--
-- The arrays are parallel, one element per transfer; ids must be distinct
-- (a repeated id fails the insert, and with it the statement). In order:
--   1. transfers whose id already exists are answered from the stored row
--      (the same content) or refused (transfer_exists), unless the caller
--      says every id is fresh (p_check_existing false);
--   2. the pending transfers named by resolutions are read, and lend their
--      accounts, currency and code;
--   3. every account involved is locked, in ascending id order, and its
--      totals read once;
--   4. each transfer is checked in order against running totals held in
--      arrays, so it sees the effect of the ones before it; a refusal
--      records its reason and leaves the totals as they were (with
--      p_atomic, the first refusal stops the group and nothing is written);
--      a transfer flagged in p_refuse_managed (the raw ledger API's) is
--      refused if either account is managed by a domain service;
--   5. the accepted transfers are inserted in one statement, each touched
--      account is updated once, and each transfer gets its audit row.
-- Error codes returned are the domain errors' codes in
-- sika.ledger.service.errors (ERRORS_BY_CODE).
CREATE OR REPLACE FUNCTION ledger_apply_transfers(
    p_ids text[], p_kinds text[], p_debit text[], p_credit text[], p_amount bigint[],
    p_currency text[], p_code text[], p_pending text[], p_timeout integer[], p_metadata jsonb[],
    p_journal text[], p_actor text[], p_request text[], p_now timestamptz, p_atomic boolean,
    p_check_existing boolean, p_lock_retries integer, p_refuse_managed boolean[]
) RETURNS TABLE (
    r_idx integer, r_error text, r_detail text, r_replayed boolean, r_id text, r_kind text,
    r_debit text, r_credit text, r_amount bigint, r_currency text, r_code text, r_pending text,
    r_timeout integer, r_expires_at timestamptz, r_journal text, r_metadata jsonb, r_created_at timestamptz
) LANGUAGE plpgsql
-- Every statement here reaches a handful of rows through an index; a plan
-- that scans a table (chosen on a small one) would grow with the ledger.
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    max_bigint constant bigint := 9223372036854775807;
    n integer := cardinality(p_ids);
    fits boolean;
    attempt integer := 0;
BEGIN
    IF n IS NULL OR n = 0 THEN
        RETURN;
    END IF;

    -- 0. One posted transfer with a fresh id (a group of one on the grouped
    -- path, a caller's single transfer): lock, check and write in three
    -- statements, without the general path's arrays and the dozens of
    -- expressions PL/pgSQL prepares anew in every transaction. The test is
    -- step 4's first one; a transfer that fails it goes on to the general
    -- path, which locks the same rows again (already ours) and names the
    -- reason.
    IF n = 1 AND p_kinds[1] = 'posted' AND NOT p_check_existing THEN
        -- Written twice, as step 3's lock: the retrying copy runs in a subtransaction.
        IF p_lock_retries = 0 THEN
            SELECT count(*) = 2 AND bool_and(
                       l.currency = p_currency[1] AND l.closed_at IS NULL
                       AND (p_refuse_managed[1] IS NOT TRUE OR NOT l.is_managed)
                       AND CASE WHEN l.id = p_debit[1] THEN
                               l.debits_posted <= max_bigint - p_amount[1]
                               AND (NOT l.debits_must_not_exceed_credits
                                    OR (p_amount[1] <= l.credits_posted
                                        AND l.debits_posted <= l.credits_posted - p_amount[1]
                                        AND l.debits_pending <= l.credits_posted - p_amount[1] - l.debits_posted))
                           ELSE
                               l.credits_posted <= max_bigint - p_amount[1]
                               AND (NOT l.credits_must_not_exceed_debits
                                    OR (p_amount[1] <= l.debits_posted
                                        AND l.credits_posted <= l.debits_posted - p_amount[1]
                                        AND l.credits_pending <= l.debits_posted - p_amount[1] - l.credits_posted))
                           END)
              INTO fits
              FROM (SELECT * FROM ledger_accounts WHERE id IN (p_debit[1], p_credit[1]) AND p_amount[1] > 0
                     ORDER BY id FOR NO KEY UPDATE) l;
        ELSE
            LOOP
                BEGIN
                    SELECT count(*) = 2 AND bool_and(
                               l.currency = p_currency[1] AND l.closed_at IS NULL
                               AND (p_refuse_managed[1] IS NOT TRUE OR NOT l.is_managed)
                               AND CASE WHEN l.id = p_debit[1] THEN
                                       l.debits_posted <= max_bigint - p_amount[1]
                                       AND (NOT l.debits_must_not_exceed_credits
                                            OR (p_amount[1] <= l.credits_posted
                                                AND l.debits_posted <= l.credits_posted - p_amount[1]
                                                AND l.debits_pending <= l.credits_posted - p_amount[1] - l.debits_posted))
                                   ELSE
                                       l.credits_posted <= max_bigint - p_amount[1]
                                       AND (NOT l.credits_must_not_exceed_debits
                                            OR (p_amount[1] <= l.debits_posted
                                                AND l.credits_posted <= l.debits_posted - p_amount[1]
                                                AND l.credits_pending <= l.debits_posted - p_amount[1] - l.credits_posted))
                                   END)
                      INTO fits
                      FROM (SELECT * FROM ledger_accounts WHERE id IN (p_debit[1], p_credit[1]) AND p_amount[1] > 0
                             ORDER BY id FOR NO KEY UPDATE) l;
                    IF fits IS NOT TRUE THEN
                        -- Refused here: the general path locks the accounts again and names
                        -- the reason; until then this block's locks go (as step 3's do).
                        RAISE EXCEPTION USING ERRCODE = 'SKL01';
                    END IF;
                    EXIT;
                EXCEPTION WHEN SQLSTATE 'SKL01' THEN
                    EXIT;
                WHEN deadlock_detected THEN
                    attempt := attempt + 1;
                    IF attempt > p_lock_retries THEN
                        RAISE;
                    END IF;
                    PERFORM pg_sleep(0.005 * attempt * random());
                END;
            END LOOP;
        END IF;
        IF fits THEN
            WITH new_transfer AS (
                INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency,
                                              code, pending_id, timeout_seconds, journal_id, metadata, created_at)
                VALUES (p_ids[1], 'posted', p_debit[1], p_credit[1], p_amount[1], p_currency[1], p_code[1],
                        p_pending[1], p_timeout[1], p_journal[1], coalesce(p_metadata[1], '{}'::jsonb), p_now)
            ), account_totals AS (
                UPDATE ledger_accounts la
                   SET debits_posted = la.debits_posted + CASE WHEN la.id = p_debit[1] THEN p_amount[1] ELSE 0 END,
                       credits_posted = la.credits_posted + CASE WHEN la.id = p_credit[1] THEN p_amount[1] ELSE 0 END,
                       version = la.version + 1, updated_at = p_now
                 WHERE la.id IN (p_debit[1], p_credit[1])
            )
            INSERT INTO audit_events (actor, action, entity_type, entity_id, data, request_id, created_at)
            VALUES (p_actor[1], 'ledger.transfer_created', 'ledger_transfer', p_ids[1],
                    jsonb_build_object('kind', 'posted', 'amount_minor', p_amount[1]), p_request[1], p_now);
            RETURN QUERY
            SELECT 1, NULL::text, NULL::text, false, p_ids[1], 'posted'::text, p_debit[1], p_credit[1], p_amount[1],
                   p_currency[1], p_code[1], p_pending[1], p_timeout[1], NULL::timestamptz, p_journal[1],
                   coalesce(p_metadata[1], '{}'::jsonb), p_now;
            RETURN;
        END IF;
    END IF;

    DECLARE
        -- An argument whose every element would be NULL may be sent as NULL.
        has_resolutions boolean := coalesce(array_remove(p_pending, NULL) <> '{}', false);
        deb text[] := coalesce(p_debit, array_fill(NULL::text, ARRAY[n]));
        cred text[] := coalesce(p_credit, array_fill(NULL::text, ARRAY[n]));
        amt bigint[] := coalesce(p_amount, array_fill(NULL::bigint, ARRAY[n]));
        cur text[] := coalesce(p_currency, array_fill(NULL::text, ARRAY[n]));
        cod text[] := coalesce(p_code, array_fill(NULL::text, ARRAY[n]));
        meta jsonb[] := coalesce(p_metadata, array_fill(NULL::jsonb, ARRAY[n]));
        expires timestamptz[] := array_fill(NULL::timestamptz, ARRAY[n]);
        created timestamptz[] := array_fill(p_now, ARRAY[n]);
        err text[] := array_fill(NULL::text, ARRAY[n]);
        det text[] := array_fill(NULL::text, ARRAY[n]);
        replayed boolean[] := array_fill(false, ARRAY[n]);
        accepted boolean[] := array_fill(false, ARRAY[n]);
        pend_amount bigint[];
        pend_kind text[];
        pend_expires timestamptz[];
        resolved_here text[] := ARRAY[]::text[];
        resolved_before text[] := ARRAY[]::text[];
        any_accepted boolean := false;
        any_timeout boolean := false;
        acc text[];
        a_cur text[];
        a_dflag boolean[];
        a_cflag boolean[];
        a_closed boolean[];
        a_managed boolean[];
        a_dp bigint[];
        a_cp bigint[];
        a_dpe bigint[];
        a_cpe bigint[];
        a_touched boolean[];
        di integer[];
        ci integer[];
        i integer;
        d integer;
        c integer;
        a bigint;
        k text;
        failed boolean := false;
        r record;
    BEGIN

        -- 1. Ids seen before: the same content is the same transfer. Skipped
        -- when every id was just generated (and so cannot exist yet).
        IF p_check_existing THEN
            FOR r IN
                SELECT u.ord::integer AS i, t.*
                  FROM unnest(p_ids) WITH ORDINALITY u(tid, ord) JOIN ledger_transfers t ON t.id = u.tid
            LOOP
                i := r.i;
                IF r.kind = p_kinds[i]
                   AND (p_debit[i] IS NULL OR p_debit[i] = r.debit_account_id)
                   AND (p_credit[i] IS NULL OR p_credit[i] = r.credit_account_id)
                   AND (p_currency[i] IS NULL OR p_currency[i] = r.currency)
                   AND (p_amount[i] IS NULL OR p_amount[i] = r.amount_minor)
                   AND (p_code[i] IS NULL OR p_code[i] = r.code)
                   AND p_pending[i] IS NOT DISTINCT FROM r.pending_id
                   AND p_timeout[i] IS NOT DISTINCT FROM r.timeout_seconds
                   AND coalesce(p_metadata[i], '{}'::jsonb) = r.metadata THEN
                    replayed[i] := true;
                    deb[i] := r.debit_account_id; cred[i] := r.credit_account_id; amt[i] := r.amount_minor;
                    cur[i] := r.currency; cod[i] := r.code; expires[i] := r.expires_at;
                    created[i] := r.created_at; meta[i] := r.metadata;
                ELSE
                    err[i] := 'transfer_exists';
                    det[i] := format('Transfer %s already exists with different content.', p_ids[i]);
                END IF;
            END LOOP;
        END IF;

        -- 2. The pending transfers that resolutions name lend them their accounts.
        IF has_resolutions THEN
            pend_amount := array_fill(NULL::bigint, ARRAY[n]);
            pend_kind := array_fill(NULL::text, ARRAY[n]);
            pend_expires := array_fill(NULL::timestamptz, ARRAY[n]);
            FOR r IN
                SELECT u.ord::integer AS i, t.*
                  FROM unnest(p_pending) WITH ORDINALITY u(pid, ord) JOIN ledger_transfers t ON t.id = u.pid
            LOOP
                i := r.i;
                CONTINUE WHEN err[i] IS NOT NULL OR replayed[i];
                pend_kind[i] := r.kind;
                pend_amount[i] := r.amount_minor;
                pend_expires[i] := r.expires_at;
                IF p_currency[i] IS NOT NULL AND p_currency[i] <> r.currency THEN
                    err[i] := 'currency_mismatch';
                    det[i] := format('Pending transfer %s is in %s, not %s.', r.id, r.currency, p_currency[i]);
                END IF;
                deb[i] := r.debit_account_id;
                cred[i] := r.credit_account_id;
                cur[i] := r.currency;
                cod[i] := coalesce(p_code[i], r.code);
                IF p_amount[i] IS NULL AND r.kind = 'pending' THEN
                    amt[i] := r.amount_minor;
                END IF;
            END LOOP;
        END IF;

        -- 3. Lock every account involved, in ascending id order (so ledger
        -- statements never deadlock each other), and read its totals once.
        -- The statement is written twice: the retrying copy runs in a
        -- subtransaction, which only a call inside a longer transaction needs.
        IF p_lock_retries = 0 THEN
            SELECT array_agg(l.id), array_agg(l.currency), array_agg(l.debits_must_not_exceed_credits),
                   array_agg(l.credits_must_not_exceed_debits), array_agg(l.closed_at IS NOT NULL), array_agg(l.is_managed),
                   array_agg(l.debits_posted), array_agg(l.credits_posted),
                   array_agg(l.debits_pending), array_agg(l.credits_pending)
              INTO acc, a_cur, a_dflag, a_cflag, a_closed, a_managed, a_dp, a_cp, a_dpe, a_cpe
              FROM (SELECT * FROM ledger_accounts WHERE id = ANY(deb || cred) ORDER BY id FOR NO KEY UPDATE) l;
        ELSE
            LOOP
                BEGIN
                    SELECT array_agg(l.id), array_agg(l.currency), array_agg(l.debits_must_not_exceed_credits),
                           array_agg(l.credits_must_not_exceed_debits), array_agg(l.closed_at IS NOT NULL), array_agg(l.is_managed),
                           array_agg(l.debits_posted), array_agg(l.credits_posted),
                           array_agg(l.debits_pending), array_agg(l.credits_pending)
                      INTO acc, a_cur, a_dflag, a_cflag, a_closed, a_managed, a_dp, a_cp, a_dpe, a_cpe
                      FROM (SELECT * FROM ledger_accounts WHERE id = ANY(deb || cred) ORDER BY id FOR NO KEY UPDATE) l;
                    IF p_atomic AND coalesce(cardinality(acc), 0) < (SELECT count(DISTINCT x) FROM unnest(deb || cred) x) THEN
                        -- An account is missing, so the call is refused whole and writes
                        -- nothing: this block is rolled back, and the locks it took go
                        -- with it. A caller that opens the account and calls again (a
                        -- platform's fee account, opened on first use) then waits for
                        -- another opener of it holding none of its accounts: two first
                        -- uses holding theirs waited on each other.
                        RAISE EXCEPTION USING ERRCODE = 'SKL01';
                    END IF;
                    EXIT;
                EXCEPTION WHEN SQLSTATE 'SKL01' THEN
                    EXIT;
                WHEN deadlock_detected THEN
                    -- Our caller's earlier locks closed a cycle: rolling back this
                    -- block releases the locks it took, which may break the cycle.
                    attempt := attempt + 1;
                    IF attempt > p_lock_retries THEN
                        RAISE;
                    END IF;
                    PERFORM pg_sleep(0.005 * attempt * random());
                END;
            END LOOP;
        END IF;
        acc := coalesce(acc, ARRAY[]::text[]);
        a_touched := array_fill(false, ARRAY[greatest(cardinality(acc), 1)]);
        SELECT array_agg(dx.ord::integer ORDER BY u.ord), array_agg(cx.ord::integer ORDER BY u.ord)
          INTO di, ci
          FROM unnest(deb, cred) WITH ORDINALITY u(d, c, ord)
          LEFT JOIN unnest(acc) WITH ORDINALITY dx(aid, ord) ON dx.aid = u.d
          LEFT JOIN unnest(acc) WITH ORDINALITY cx(aid, ord) ON cx.aid = u.c;

        IF has_resolutions THEN
            -- Read after the locks: whoever resolved these held the same locks and has committed.
            SELECT coalesce(array_agg(t.pending_id), ARRAY[]::text[]) INTO resolved_before
              FROM ledger_transfers t
             WHERE t.pending_id = ANY(p_pending);
        END IF;

        -- 4. Check each transfer in order against the running totals. The first
        -- test is the whole rule in one expression (the common case); the chain
        -- after it only runs to name the reason of a refusal.
        FOR i IN 1..n LOOP
            CONTINUE WHEN err[i] IS NOT NULL OR replayed[i];
            k := p_kinds[i];
            d := di[i];
            c := ci[i];
            a := amt[i];
            IF k = 'posted' AND a > 0 AND d IS NOT NULL AND c IS NOT NULL AND d <> c
               AND a_cur[d] = cur[i] AND a_cur[c] = cur[i] AND NOT a_closed[d] AND NOT a_closed[c]
               AND (p_refuse_managed[i] IS NOT TRUE OR NOT (a_managed[d] OR a_managed[c]))
               AND a_dp[d] <= max_bigint - a AND a_cp[c] <= max_bigint - a
               AND (NOT a_dflag[d] OR (a <= a_cp[d] AND a_dp[d] <= a_cp[d] - a AND a_dpe[d] <= a_cp[d] - a - a_dp[d]))
               AND (NOT a_cflag[c] OR (a <= a_dp[c] AND a_cp[c] <= a_dp[c] - a AND a_cpe[c] <= a_dp[c] - a - a_cp[c]))
            THEN
                a_dp[d] := a_dp[d] + a;
                a_cp[c] := a_cp[c] + a;
            ELSIF k IN ('post_pending', 'void_pending', 'expire_pending') THEN
                IF pend_kind[i] IS NULL THEN
                    err[i] := 'pending_transfer_not_found';
                    det[i] := format('No pending transfer %s.', p_pending[i]);
                ELSIF pend_kind[i] <> 'pending' THEN
                    err[i] := 'transfer_not_pending';
                    det[i] := format('Transfer %s is not a pending transfer.', p_pending[i]);
                ELSIF p_refuse_managed[i] AND (a_managed[d] OR a_managed[c]) THEN
                    err[i] := 'account_managed';
                    det[i] := format('Account %s is managed by Sika: only its own API moves money on it.',
                                     CASE WHEN a_managed[d] THEN deb[i] ELSE cred[i] END);
                ELSIF p_pending[i] = ANY(resolved_before) OR p_pending[i] = ANY(resolved_here) THEN
                    err[i] := 'pending_transfer_already_resolved';
                    det[i] := format('Pending transfer %s was already posted, voided or expired.', p_pending[i]);
                ELSIF k <> 'expire_pending' AND pend_expires[i] IS NOT NULL AND pend_expires[i] <= p_now THEN
                    err[i] := 'pending_transfer_expired';
                    det[i] := format('Pending transfer %s expired at %s.', p_pending[i], pend_expires[i]);
                ELSIF k = 'expire_pending' AND (pend_expires[i] IS NULL OR pend_expires[i] > p_now) THEN
                    err[i] := 'pending_transfer_not_expired';
                    det[i] := format('Pending transfer %s has not reached its timeout.', p_pending[i]);
                ELSIF a IS NULL OR a <= 0 THEN
                    err[i] := 'invalid_amount';
                    det[i] := 'The amount must be a positive integer in minor units.';
                ELSIF a > pend_amount[i] THEN
                    err[i] := 'amount_exceeds_pending';
                    det[i] := format('Cannot post %s: pending transfer %s holds %s.', a, p_pending[i], pend_amount[i]);
                ELSIF k <> 'post_pending' AND a <> pend_amount[i] THEN
                    err[i] := 'invalid_amount';
                    det[i] := 'A void or expiry releases the whole pending amount.';
                ELSIF k = 'post_pending' AND a_dp[d] > max_bigint - a THEN
                    err[i] := 'amount_overflow';
                    det[i] := format('Account %s: total debits would pass the largest amount.', deb[i]);
                ELSIF k = 'post_pending' AND a_cp[c] > max_bigint - a THEN
                    err[i] := 'amount_overflow';
                    det[i] := format('Account %s: total credits would pass the largest amount.', cred[i]);
                ELSE
                    a_dpe[d] := a_dpe[d] - pend_amount[i];
                    a_cpe[c] := a_cpe[c] - pend_amount[i];
                    IF k = 'post_pending' THEN
                        a_dp[d] := a_dp[d] + a;
                        a_cp[c] := a_cp[c] + a;
                    END IF;
                    resolved_here := resolved_here || p_pending[i];
                END IF;
            ELSIF k IN ('posted', 'pending') THEN
                IF a IS NULL OR a <= 0 THEN
                    err[i] := 'invalid_amount';
                    det[i] := 'The amount must be a positive integer in minor units.';
                ELSIF deb[i] = cred[i] THEN
                    err[i] := 'same_account';
                    det[i] := 'A transfer needs two different accounts.';
                ELSIF d IS NULL THEN
                    err[i] := 'account_not_found';
                    det[i] := format('No ledger account %s.', deb[i]);
                ELSIF c IS NULL THEN
                    err[i] := 'account_not_found';
                    det[i] := format('No ledger account %s.', cred[i]);
                ELSIF p_refuse_managed[i] AND (a_managed[d] OR a_managed[c]) THEN
                    err[i] := 'account_managed';
                    det[i] := format('Account %s is managed by Sika: only its own API moves money on it.',
                                     CASE WHEN a_managed[d] THEN deb[i] ELSE cred[i] END);
                ELSIF a_cur[d] <> cur[i] OR a_cur[c] <> cur[i] THEN
                    err[i] := 'currency_mismatch';
                    det[i] := format('Transfer in %s between accounts in %s and %s.', cur[i], a_cur[d], a_cur[c]);
                ELSIF a_closed[d] THEN
                    err[i] := 'account_closed';
                    det[i] := format('Account %s is closed.', deb[i]);
                ELSIF a_closed[c] THEN
                    err[i] := 'account_closed';
                    det[i] := format('Account %s is closed.', cred[i]);
                ELSIF (CASE WHEN k = 'posted' THEN a_dp[d] ELSE a_dpe[d] END) > max_bigint - a THEN
                    err[i] := 'amount_overflow';
                    det[i] := format('Account %s: total debits would pass the largest amount.', deb[i]);
                ELSIF (CASE WHEN k = 'posted' THEN a_cp[c] ELSE a_cpe[c] END) > max_bigint - a THEN
                    err[i] := 'amount_overflow';
                    det[i] := format('Account %s: total credits would pass the largest amount.', cred[i]);
                ELSIF a_dflag[d] AND a_dp[d]::numeric + a_dpe[d] + a > a_cp[d] THEN
                    err[i] := 'insufficient_funds';
                    det[i] := format('Account %s has %s available; %s requested.',
                                     deb[i], a_cp[d]::numeric - a_dp[d] - a_dpe[d], a);
                ELSIF a_cflag[c] AND a_cp[c]::numeric + a_cpe[c] + a > a_dp[c] THEN
                    err[i] := 'exceeds_debits';
                    det[i] := format('Account %s may take at most %s more in credits; %s requested.',
                                     cred[i], a_dp[c]::numeric - a_cp[c] - a_cpe[c], a);
                ELSIF k = 'pending' THEN
                    a_dpe[d] := a_dpe[d] + a;
                    a_cpe[c] := a_cpe[c] + a;
                    IF p_timeout[i] IS NOT NULL THEN
                        expires[i] := p_now + make_interval(secs => p_timeout[i]);
                        any_timeout := true;
                    END IF;
                ELSE
                    RAISE EXCEPTION 'ledger_apply_transfers: transfer % passed every check but the first', p_ids[i];
                END IF;
            ELSE
                err[i] := 'invalid_kind';
                det[i] := format('Unknown transfer kind %s.', k);
            END IF;
            IF err[i] IS NOT NULL THEN
                IF p_atomic THEN
                    failed := true;
                    EXIT;
                END IF;
            ELSE
                accepted[i] := true;
                any_accepted := true;
                a_touched[d] := true;
                a_touched[c] := true;
            END IF;
        END LOOP;

        -- 5. Write, in one statement: the accepted transfers, each touched
        -- account once, and an audit row per transfer.
        IF any_accepted AND NOT failed THEN
            WITH new_transfers AS (
                INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency,
                                              code, pending_id, timeout_seconds, expires_at, journal_id, metadata,
                                              created_at)
                SELECT u.id, u.kind, u.deb, u.cred, u.amt, u.cur, u.cod, u.pend, u.timeout, u.expires, u.journal,
                       coalesce(u.meta, '{}'::jsonb), p_now
                  FROM unnest(p_ids, p_kinds, deb, cred, amt, cur, cod, p_pending, p_timeout, expires, p_journal,
                              meta, accepted)
                       AS u(id, kind, deb, cred, amt, cur, cod, pend, timeout, expires, journal, meta, ok)
                 WHERE u.ok
            ), account_totals AS (
                UPDATE ledger_accounts la
                   SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dpe, credits_pending = u.cpe,
                       version = la.version + 1, updated_at = p_now
                  FROM unnest(acc, a_dp, a_cp, a_dpe, a_cpe, a_touched) AS u(id, dp, cp, dpe, cpe, touched)
                 WHERE la.id = u.id AND u.touched
            )
            INSERT INTO audit_events (actor, action, entity_type, entity_id, data, request_id, created_at)
            SELECT u.actor, 'ledger.transfer_created', 'ledger_transfer', u.id,
                   jsonb_build_object('kind', u.kind, 'amount_minor', u.amt), u.request, p_now
              FROM unnest(p_ids, p_kinds, amt, p_actor, p_request, accepted) AS u(id, kind, amt, actor, request, ok)
             WHERE u.ok;

            IF any_timeout THEN
                INSERT INTO ledger_pending_timeouts (transfer_id, expires_at)
                SELECT u.id, u.e FROM unnest(p_ids, expires, accepted) u(id, e, ok) WHERE u.ok AND u.e IS NOT NULL;
            END IF;
            IF resolved_here <> '{}' THEN
                DELETE FROM ledger_pending_timeouts WHERE transfer_id = ANY(resolved_here);
            END IF;
        END IF;

        RETURN QUERY
        SELECT u.ord::integer, u.e, u.dt, u.rep, u.id, u.kind, u.deb, u.cred, u.amt, u.cur, u.cod, u.pend,
               u.timeout, u.expires, u.journal, coalesce(u.meta, '{}'::jsonb), u.created
          FROM unnest(err, det, replayed, p_ids, p_kinds, deb, cred, amt, cur, cod, p_pending, p_timeout,
                      expires, p_journal, meta, created)
               WITH ORDINALITY AS u(e, dt, rep, id, kind, deb, cred, amt, cur, cod, pend, timeout, expires, journal,
                                    meta, created, ord);
    END;
END $$;
COMMENT ON FUNCTION ledger_apply_transfers(text[], text[], text[], text[], bigint[], text[], text[], text[], integer[], jsonb[], text[], text[], text[], timestamptz, boolean, boolean, integer, boolean[]) IS 'Source: sika/ledger/sql/ledger.sql';
