-- Reads the forensics board and timeline need (ledger/store/board.py). Read-only, all of them.

-- board_verdict_sets --
-- The stored (derived, deletable) verdict sets per run: under which policy and evaluator, folded
-- through which seq, when, and how many rules failed or were unknown.
SELECT run_id, policy_hash, evaluator_version, min(through_seq), bool_or(through_seq IS NULL),
       min(checked_at), count(*) FILTER (WHERE outcome = 'fail'),
       count(*) FILTER (WHERE outcome = 'unknown')
FROM ledger_verdicts GROUP BY run_id, policy_hash, evaluator_version

-- board_run_marks --
-- What fresh verdicts of a run must match: its last event's seq and the pack in force in its
-- log when it started (the last policy.published of its origin before its first event: the pack
-- `check_in_force` judges it by, replay/policy/inforce.py; never the hash the run names).
-- The last event is the one with the highest run_seq (the sequencer logs a run in run_seq order):
-- one index entry per run, not a pass over its events.
SELECT s.run_id, (SELECT e.seq FROM ledger_events e WHERE e.run_id = s.run_id
                  ORDER BY e.run_seq DESC LIMIT 1),
       (SELECT convert_from(p.body, 'UTF8')::jsonb #>> '{data,policy_hash}' FROM ledger_events p
        WHERE p.origin = s.origin AND p.type = 'policy.published' AND p.seq < s.seq
        ORDER BY p.seq DESC LIMIT 1)
FROM ledger_events s WHERE s.type = 'run.started'

-- board_approval_events --
-- For the given origins (sql/queries.sql `origins`), so each probe uses the (origin, type, seq)
-- index: a bare `type IN (...)` reads the whole log at each paint.
SELECT origin, seq, type, body FROM ledger_events
WHERE origin = ANY(%(origins)s::text[]) AND type IN ('approval.requested', 'approval.decided')
ORDER BY origin, seq

-- board_origin_size --
SELECT coalesce(max(seq) + 1, 0) FROM ledger_events WHERE origin = %s

-- board_events_in_range --
-- One page of a whole log: row index == seq, so a page is a seq range (keyset, never OFFSET).
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE origin = %s AND seq >= %s AND seq < %s ORDER BY seq

-- board_events_by_keys --
SELECT e.seq, e.recorded_at, e.body, e.leaf_hash, e.origin FROM ledger_events e
JOIN unnest(%s::text[], %s::bigint[]) AS k(origin, seq) ON e.origin = k.origin AND e.seq = k.seq

-- board_seq_at_time --
SELECT seq FROM ledger_events WHERE origin = %s AND occurred_at >= %s
ORDER BY occurred_at, seq LIMIT 1

-- board_event_keys --
-- The ordered (origin, seq, occurred_at) keys of a scope under one condition. The two slots are
-- filled with one board_scope_* and one board_when_* fragment below (composed with psycopg.sql,
-- never by string formatting; values are always bound parameters).
SELECT origin, seq, occurred_at FROM ledger_events
WHERE {scope} AND {condition}
ORDER BY occurred_at, origin, seq LIMIT %(limit)s

-- board_scope_runs --
run_id = ANY(%(runs)s::uuid[])

-- board_scope_origin --
origin = %(origin)s

-- board_when_none --
TRUE

-- board_when_text --
convert_from(body, 'UTF8') ILIKE %(value)s

-- board_when_not_text --
convert_from(body, 'UTF8') NOT ILIKE %(value)s

-- board_when_field --
(convert_from(body, 'UTF8')::jsonb #>> %(path)s::text[]) = %(value)s

-- board_when_resource --
(convert_from(body, 'UTF8')::jsonb -> 'data' -> 'resources') ? %(value)s

-- board_when_type --
type = %(value)s

-- board_event_at --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events WHERE origin = %s AND seq = %s

-- board_run_leaf --
SELECT leaf_hash FROM ledger_events WHERE run_id = %s AND run_seq = %s

-- board_linked_events --
-- Events that may point at one event: decisions, undo steps, annotations and stop requests of
-- its run, or anywhere whose body names the event id. The origins come first (as an array) so
-- the (origin, type, seq) index serves each origin.
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE origin = ANY(ARRAY(SELECT DISTINCT origin FROM ledger_checkpoints))
  AND type IN ('approval.decided', 'undo.step.started', 'undo.step.ended', 'annotation',
               'run.stop.requested')
  AND (run_id = %(run)s OR convert_from(body, 'UTF8') LIKE %(needle)s)
ORDER BY origin, seq

-- board_run_starts_before --
SELECT body FROM ledger_events WHERE type = 'run.started' AND origin = %s AND seq < %s
ORDER BY seq DESC LIMIT %s

-- board_latest_policy --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE type = 'policy.published' ORDER BY recorded_at DESC, seq DESC LIMIT 1

-- board_events_of_type --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events WHERE type = %s ORDER BY seq

-- board_listen_appended --
-- The sequencer's NOTIFY after each batch (payload '<origin> <size>'): a wake-up, never data.
LISTEN ledger_appended
