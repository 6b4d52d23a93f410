-- copy_verify_from --
-- The events of an origin from a seq on, as copy_verify (the row pass of an incremental verify).
COPY (SELECT seq, event_id, run_id, run_seq, type, occurred_at, body, leaf_hash
      FROM ledger_events WHERE origin = %s AND seq >= %s ORDER BY seq) TO STDOUT (FORMAT BINARY)

-- run_heads_before --
-- For every run with an event at or after a seq: its last event before that seq (run_seq and
-- leaf hash), one backward probe of the (run_id, run_seq) index per run. Runs that start in the
-- range have no row. Reads only the range, never the prefix.
SELECT r.run_id, p.run_seq, p.leaf_hash
FROM (SELECT DISTINCT run_id FROM ledger_events WHERE origin = %(origin)s AND seq >= %(start)s) r
CROSS JOIN LATERAL (
    SELECT e.run_seq, e.leaf_hash FROM ledger_events e
    WHERE e.run_id = r.run_id AND e.origin = %(origin)s AND e.seq < %(start)s
    ORDER BY e.run_seq DESC LIMIT 1
) p

-- checkpoints_from --
SELECT tree_size, root_hash, note FROM ledger_checkpoints
WHERE origin = %s AND tree_size >= %s ORDER BY tree_size

-- stamp_notes_from --
SELECT tree_size, stamp_note FROM ledger_checkpoints
WHERE origin = %s AND tree_size >= %s ORDER BY tree_size

-- first_stamped_between --
-- A row in [lo, hi) that carries a stamp although the stamp chain starts at hi.
SELECT min(seq) FROM ledger_events
WHERE origin = %s AND seq >= %s AND seq < %s AND submitted_by IS NOT NULL

-- log_size --
-- One past the largest seq of an origin (a backward probe of the primary key); 0 when empty.
SELECT coalesce(max(seq) + 1, 0) FROM ledger_events WHERE origin = %s

-- sample_events --
-- Some events of an origin by seq: the monitor's re-sample of old entries.
SELECT seq, body, leaf_hash FROM ledger_events WHERE origin = %s AND seq = ANY(%s::int8[])
ORDER BY seq

-- payloads_of_commitments --
-- The stored payloads of some commitments (the incremental verify's range), as origin_payloads.
SELECT p.commitment, p.path, p.ciphertext, p.subject,
       coalesce(p.scheme, k.scheme), CASE WHEN p.scheme IS NULL THEN k.key END,
       coalesce(p.public_key, k.public_key), coalesce(p.wrapped_key, k.wrapped_key),
       coalesce(p.kek_id, k.kek_id)
FROM ledger_payloads p
LEFT JOIN ledger_subject_keys k ON k.origin = p.origin AND k.subject = p.subject
WHERE p.origin = %s AND p.commitment = ANY(%s::text[])

-- seq_neighbours --
-- The largest stored seq of an origin below a seq and the smallest at or above another: two
-- probes of the primary key (incremental verify: is the log still as large as the pin?).
SELECT (SELECT max(seq) FROM ledger_events WHERE origin = %(origin)s AND seq < %(below)s),
       (SELECT min(seq) FROM ledger_events WHERE origin = %(origin)s AND seq >= %(from)s)

-- attached_ranges --
-- The seq ranges [lo, hi) of the range partitions attached next to the one holding an event of
-- an origin (its events list partition's children, from the system catalog any role may read);
-- empty when the events are not range-partitioned.
SELECT r.lo, r.hi FROM (
    SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?\d+)''?\)'))[1]::bigint,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?\d+)''?\)'))[1]::bigint
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = (
        SELECT p.inhparent FROM pg_inherits p
        WHERE p.inhrelid = (SELECT tableoid FROM ledger_events
                            WHERE origin = %(origin)s AND seq = %(seq)s))
      AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
) r(lo, hi) WHERE r.lo IS NOT NULL ORDER BY r.lo
