-- Reads and writes of the log that `ledger.store` runs for proofs, verify, keys and receipts.
-- Each statement starts with a "-- name --" header line (see ledger/db/sqlfiles.py).

-- events_after --
SELECT seq, recorded_at, body, leaf_hash FROM ledger_events
WHERE origin = %s AND seq > %s ORDER BY seq LIMIT %s

-- events_of_types --
SELECT seq, body FROM ledger_events WHERE origin = %s AND type = ANY(%s) ORDER BY seq

-- events_of_types_before --
SELECT seq, body FROM ledger_events
WHERE origin = %s AND seq < %s AND type = ANY(%s) ORDER BY seq

-- checkpoint_at --
SELECT tree_size, root_hash, note FROM ledger_checkpoints WHERE origin = %s AND tree_size = %s

-- checkpoint_at_most --
SELECT tree_size, root_hash, note FROM ledger_checkpoints
WHERE origin = %s AND tree_size <= %s ORDER BY tree_size DESC LIMIT 1

-- cosigned_note --
SELECT note FROM ledger_cosigned WHERE origin = %s AND tree_size = %s

-- insert_cosigned --
INSERT INTO ledger_cosigned (origin, tree_size, note) VALUES (%s, %s, %s)
ON CONFLICT (origin, tree_size) DO UPDATE SET note = EXCLUDED.note

-- receipt_state --
-- For each id a writer holds a receipt for: the logged leaf hash, else the pending intake body.
-- Through the tenant-scoped read API (migration 0010): other tenants' ids read as unknown.
SELECT event_id, state, seq, leaf_hash, body, reason FROM ledger_receipts(%s::uuid[])

-- approval_requests --
-- The approval.requested events of one log carrying an approval id (issue 14: `ledger approve`),
-- through the (origin, type, seq) index; more than one means a writer repeated the id.
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE origin = %s AND type = 'approval.requested'
  AND convert_from(body, 'UTF8')::jsonb #>> '{data,approval_id}' = %s
ORDER BY seq
