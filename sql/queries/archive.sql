-- `ledger archive` (issue 20, exporters/archive.py). Each starts with a "-- name --" header.

-- pending_holds --
-- hold.added records of log %(origin)s submitted but not yet sequenced: each becomes a hold in
-- force with the next batch, so the archive's detach (which holds the sequencer row, no batch
-- runs meanwhile) refuses while one waits. Intake is small: a scan of the origin's rows.
SELECT count(*) FROM ledger_intake
WHERE origin = %(origin)s AND convert_from(body, 'UTF8')::jsonb ->> 'type' = 'hold.added'
