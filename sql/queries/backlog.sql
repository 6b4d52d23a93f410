-- The intake backlog (issue 15 item 3): what writers were told is durable but is not yet in the
-- log, and whether any sequencer is alive to take it.

-- intake_backlog --
-- How many acknowledged events wait, the age of the oldest (database clock, seconds), and whether
-- a sequencer is alive: `ledger serve` refreshes the heartbeat of ledger_sequencer_state at least
-- once a second, and only the sequencer role and the owner may write it (migration 0013; an
-- advisory lock, which any writer could take, no longer counts).
SELECT count(*),
       extract(epoch FROM clock_timestamp() - min(received_at))::float8,
       EXISTS (SELECT 1 FROM ledger_sequencer_state s
               WHERE s.heartbeat_at > clock_timestamp() - interval '15 seconds')
FROM ledger_intake

-- reject_reasons --
-- Why the sequencer rejected each of these (the writer's own) event ids (migration 0012).
SELECT event_id, reason FROM ledger_reject_reasons(%s::uuid[])
