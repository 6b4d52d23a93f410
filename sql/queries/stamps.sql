-- The sequencer's stamp chain (ledger/store/stamps.py, ledger/stamps.py). Each starts with a
-- "-- name --" header.

-- batch_recorded_at --
-- One recorded_at for a whole batch, read after leadership is taken (so batches are ordered),
-- as the exact microseconds PostgreSQL stores (extract(epoch) is numeric: no rounding).
SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8

-- stamp_state --
SELECT stamp_start, stamp_head FROM ledger_checkpoints
WHERE origin = %s ORDER BY tree_size DESC LIMIT 1

-- stamp_notes --
SELECT tree_size, stamp_note FROM ledger_checkpoints WHERE origin = %s ORDER BY tree_size

-- stamp_rows --
SELECT seq, leaf_hash, (extract(epoch FROM recorded_at) * 1000000)::int8, submitted_by::text
FROM ledger_events WHERE origin = %s AND seq >= %s ORDER BY seq

-- first_stamped_before --
-- A row before the chain's start that carries a stamp (the chain cannot vouch for it).
SELECT min(seq) FROM ledger_events WHERE origin = %s AND seq < %s AND submitted_by IS NOT NULL
