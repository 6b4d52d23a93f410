-- A sequencer per origin (issue 20 item 2; ledger/store/leases.py, docs/sequencers.md).
--
-- Leadership was one row lock for the whole database (0013), so tenants could not be sequenced
-- in parallel. It is now one lease row per origin: a batch locks the lease rows of the origins
-- it sequences (FOR UPDATE SKIP LOCKED: two batches never work on one origin, and never wait
-- for each other) and renews them on the database clock. Like 0013's row, a lease row can be
-- locked only with UPDATE privilege: the sequencer role and the owner. A writer can neither
-- take nor hold one (an advisory lock would not do: any role may take any advisory lock).
--
-- `ledger serve` processes register in ledger_sequencer_holders (seen at least once a second);
-- the live ones split the origins that have work (fair share), and a crashed holder's origins
-- are taken over once its lease expires. Key operations (rotation) still lock
-- ledger_sequencer_state's row FOR UPDATE; a batch locks it FOR KEY SHARE, so no batch
-- interleaves with a rotation while batches run side by side (and serve's heartbeat, an UPDATE
-- of a non-key column, never waits for a batch).
CREATE TABLE IF NOT EXISTS ledger_sequencer_leases (
    origin      text PRIMARY KEY,
    holder      text,
    expires_at  timestamptz NOT NULL DEFAULT clock_timestamp(),  -- free from now on
    acquired_at timestamptz,
    batches     bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ledger_sequencer_holders (
    holder     text PRIMARY KEY,
    tenants    text[] NOT NULL DEFAULT '{}',
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seen_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE ALL ON ledger_sequencer_leases, ledger_sequencer_holders FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON ledger_sequencer_leases TO ledger_sequencer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger_sequencer_holders TO ledger_sequencer;
GRANT SELECT ON ledger_sequencer_leases, ledger_sequencer_holders
    TO ledger_reader, ledger_operator;

-- A batch reads only the origins it leased: fresh rows by origin then intake_id, held rows by
-- origin then held_at (0013's indexes stay for the backlog queries).
CREATE INDEX IF NOT EXISTS ledger_intake_origin_fresh ON ledger_intake (origin, intake_id)
    WHERE held_at IS NULL;
CREATE INDEX IF NOT EXISTS ledger_intake_origin_held ON ledger_intake (origin, held_at, intake_id)
    WHERE held_at IS NOT NULL;
