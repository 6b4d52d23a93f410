-- The intake backlog (issue 15 item 3): what writers were told is durable but is not yet in the
-- log, and whether any sequencer is alive to take it.

-- intake_backlog --
-- How many acknowledged events wait, the age of the oldest (database clock, seconds), and whether
-- a sequencer is alive: a `ledger serve` holds the shared session lock 7162535 for its whole
-- life; a batch in progress (any writer sequencing) holds the transaction lock 7162534.
SELECT count(*),
       extract(epoch FROM clock_timestamp() - min(received_at))::float8,
       EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0
                 AND l.objid IN (7162534, 7162535) AND l.objsubid = 1
                 AND l.database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database()))
FROM ledger_intake

-- hold_serve_lock --
-- Taken by `ledger serve` at start (shared: several serves may run, one leads at a time).
SELECT pg_advisory_lock_shared(7162535)

-- release_serve_lock --
SELECT pg_advisory_unlock_shared(7162535)

-- reject_reasons --
-- Why the sequencer rejected each of these (the writer's own) event ids (migration 0012).
SELECT event_id, reason FROM ledger_reject_reasons(%s::uuid[])
