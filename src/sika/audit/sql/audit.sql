-- The audit log's database function and triggers, as they stand: the text
-- every database migrated to head runs. How to change them:
-- sika/ledger/sql/ledger.sql (the same rule for every domain's sql file).

-- The audit log is append-only: the database itself refuses to rewrite history.
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION audit_events_refuse_change() IS 'Source: sika/audit/sql/audit.sql';
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
