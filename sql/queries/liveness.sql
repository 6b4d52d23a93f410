-- Sequencer liveness (issue 15 item 1, migration 0013; ledger/store/liveness.py).

-- take_sequencer_row --
-- Leadership for the current transaction: only the sequencer role and the owner may lock it.
SELECT 1 FROM ledger_sequencer_state FOR UPDATE

-- try_sequencer_row --
SELECT 1 FROM ledger_sequencer_state FOR UPDATE SKIP LOCKED

-- held_rows --
-- The batch's held rows: first time held?, and waiting longer than the bound (seconds)?
SELECT intake_id, held_at IS NULL,
       received_at < clock_timestamp() - make_interval(secs => %s::float8)
FROM ledger_intake WHERE intake_id = ANY(%s::bigint[])

-- mark_held --
-- To the back of the held queue (round robin).
UPDATE ledger_intake SET held_at = clock_timestamp() WHERE intake_id = ANY(%s::bigint[])

-- sequencer_heartbeat --
UPDATE ledger_sequencer_state SET heartbeat_at = clock_timestamp()

-- sequencer_heartbeat_clear --
UPDATE ledger_sequencer_state SET heartbeat_at = NULL
