-- Sequencer stamps and run rules (issue 15, item 2: "which credential wrote this" is provable).
--
-- ledger_intake.submitted_by is filled by PostgreSQL with the role that inserted the row (a
-- writer cannot choose it: 0010 grants INSERT on the other columns only). The
-- sequencer copies it into ledger_events.submitted_by and writes recorded_at itself, then folds
-- (leaf_hash, seq, recorded_at, submitted_by) of every event into a per-origin hash chain whose
-- head it signs with the log key at each checkpoint, as a separate signed note
-- `<origin>/stamps` (stamp_note), so the C2SP checkpoint note itself keeps its three lines.
-- stamp_start is the first seq the chain covers (rows sequenced before this migration carry no
-- stamp: submitted_by NULL); stamp_head is the chain head at tree_size (the sequencer's state).
-- submitted_by is session_user: the LOGIN credential, which SET ROLE cannot change.
ALTER TABLE ledger_intake
    ADD COLUMN IF NOT EXISTS submitted_by name NOT NULL DEFAULT session_user;
ALTER TABLE ledger_events ADD COLUMN IF NOT EXISTS submitted_by name;
ALTER TABLE ledger_checkpoints
    ADD COLUMN IF NOT EXISTS stamp_start bigint,
    ADD COLUMN IF NOT EXISTS stamp_head bytea,
    ADD COLUMN IF NOT EXISTS stamp_note text;
ALTER TABLE ledger_checkpoints DROP CONSTRAINT IF EXISTS checkpoint_stamp_shape;
ALTER TABLE ledger_checkpoints ADD CONSTRAINT checkpoint_stamp_shape CHECK (
    (stamp_note IS NULL AND stamp_head IS NULL AND stamp_start IS NULL)
    OR (stamp_note IS NOT NULL AND length(stamp_head) = 32
        AND stamp_start BETWEEN 0 AND tree_size)
);

-- Who may write control-plane events (policy, registry, keys, redactions, stops): members of
-- ledger_operator, the tables' owner and superusers. Everyone else is a writer (0010 binds
-- writers to tenants).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_operator') THEN
        CREATE ROLE ledger_operator NOLOGIN;
    END IF;
END
$$;
