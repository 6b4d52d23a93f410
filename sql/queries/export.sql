-- The evidence bundle's reads (exporters/bundle*.py through ledger/store/export.py).

-- export_scope --
-- How many events of the prefix [0, end) fall in the (widened) period, and their seq span.
SELECT count(*), min(seq), max(seq) FROM ledger_events
WHERE origin = %s AND seq < %s AND occurred_at >= %s AND occurred_at < %s

-- export_window --
-- Every row of the seq window comes back (seq, leaf) so the tree needs no second pass over the
-- heap; the body only for rows inside the (widened) period. No ORDER BY: sorted client-side.
SELECT seq, leaf_hash, CASE WHEN occurred_at >= %s AND occurred_at < %s THEN body END
FROM ledger_events WHERE origin = %s AND seq >= %s AND seq < %s

-- export_leaves --
-- No ORDER BY: rows are sorted client-side (free when already in order); with it PostgreSQL
-- bitmap-scanned and sorted each 100k window on disk.
SELECT seq, leaf_hash FROM ledger_events WHERE origin = %s AND seq >= %s AND seq < %s

-- export_recorded_at --
-- The sequencer's commit time of the given events (not in the hashed body): the clock their
-- identity tokens are judged at, attested in the bundle's identity/tokens.jsonl.
SELECT seq, recorded_at FROM ledger_events WHERE origin = %s AND seq = ANY(%s)
