-- Root of trust recorded in the database too (issue 15 item 5).
--
-- `keys/root.pub` (the first log key's vkey, ledger.store.logkey) lives on the host: whoever
-- holds the host's files can delete it, plant a key of their own, rewrite `log.key.pub` and
-- re-sign every checkpoint. This table keeps the same vkey per origin prefix in the database,
-- written once (the row is inserted where root.pub is written, insert-if-absent), so
-- `ledger verify` can compare the two: swapping the root now needs both the files and the
-- database. Append-only like ledger_events: UPDATE, DELETE and TRUNCATE are refused; only the
-- owner and the sequencer insert; readers may SELECT.
CREATE TABLE IF NOT EXISTS ledger_trust_roots (
    origin_prefix text        PRIMARY KEY,
    vkey          text        NOT NULL CHECK (vkey <> ''),
    recorded_by   name        NOT NULL DEFAULT current_user,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

DROP TRIGGER IF EXISTS ledger_trust_roots_append_only ON ledger_trust_roots;
CREATE TRIGGER ledger_trust_roots_append_only BEFORE UPDATE OR DELETE ON ledger_trust_roots
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
DROP TRIGGER IF EXISTS ledger_trust_roots_no_truncate ON ledger_trust_roots;
CREATE TRIGGER ledger_trust_roots_no_truncate BEFORE TRUNCATE ON ledger_trust_roots
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

REVOKE ALL ON ledger_trust_roots FROM PUBLIC;
GRANT SELECT, INSERT (origin_prefix, vkey) ON ledger_trust_roots TO ledger_sequencer;
GRANT SELECT ON ledger_trust_roots TO ledger_reader, ledger_operator;
