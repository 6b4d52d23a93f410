-- No event can stop the log (issue 15 item 1). Two ways a hostile writer could
-- halt sequencing for every tenant are closed here.
--
-- * Held rows: an event whose run predecessor never arrives used to stay at the head of the
--   intake queue, and batch_size of them filled every batch. `held_at` marks a row the
--   sequencer held back; fresh rows (held_at IS NULL) are read first by intake_id, held rows
--   least-recently-held first (round robin), each through its own partial index. The sequencer
--   may update that one column and nothing else of a writer's row.
-- * Leadership: an advisory lock can be taken by any role, so a writer holding 7162534 stopped
--   every sequencer and a writer holding 7162535 faked a live one. Leadership is now the row
--   lock of the one row below (SELECT ... FOR UPDATE needs UPDATE privilege: the sequencer role
--   and the owner only), and "a sequencer is running" is the age of its heartbeat, which only
--   they can write.
ALTER TABLE ledger_intake ADD COLUMN IF NOT EXISTS held_at timestamptz;
GRANT UPDATE (held_at) ON ledger_intake TO ledger_sequencer;
CREATE INDEX IF NOT EXISTS ledger_intake_fresh ON ledger_intake (intake_id)
    WHERE held_at IS NULL;
CREATE INDEX IF NOT EXISTS ledger_intake_held ON ledger_intake (held_at, intake_id)
    WHERE held_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_intake_held_run ON ledger_intake (run_id)
    WHERE held_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS ledger_sequencer_state (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    heartbeat_at timestamptz
);
INSERT INTO ledger_sequencer_state (one) VALUES (true) ON CONFLICT DO NOTHING;
REVOKE ALL ON ledger_sequencer_state FROM PUBLIC;
GRANT SELECT, UPDATE ON ledger_sequencer_state TO ledger_sequencer;
GRANT SELECT ON ledger_sequencer_state TO ledger_reader, ledger_operator;
