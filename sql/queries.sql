-- Named DML. Each query starts with a "-- name --" header line.

-- submit_events --
-- Ids already logged are asked of the tenant-scoped read API (writers cannot read the log), once
-- per statement for the whole batch. One row back: the ids inserted now and the live-control
-- version (issue 16), so the durable ack also tells the hooks whether stops changed, in the
-- same round trip.
WITH batch AS (
    SELECT * FROM unnest(%b::uuid[], %b::text[], %b::uuid[], %b::bigint[], %b::bytea[])
                  WITH ORDINALITY AS e(event_id, origin, run_id, run_seq, body, ord)
), logged AS (SELECT ledger_logged_ids(array_agg(event_id)) AS ids FROM batch),
ins AS (
    INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body)
    SELECT e.event_id, e.origin, e.run_id, e.run_seq, e.body FROM batch e
    WHERE e.event_id <> ALL ((SELECT ids FROM logged)::uuid[])
    ORDER BY e.ord
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
)
SELECT coalesce((SELECT array_agg(event_id) FROM ins), '{}'::uuid[]) AS inserted,
       ledger_live_version() AS live_version

-- pending_intake --
-- The batch's rows, from the origins it leased only (parameters: batch size, origins;
-- migration 0027). Fresh rows first by intake_id; then held rows (their run predecessor had not arrived)
-- of the runs those fresh rows belong to, which may now fit; then held rows not looked at for a
-- second, least recently held first (round robin), at least a tenth of the batch. Held rows never
-- block fresh ones, fresh ones never starve held ones, and an idle sequencer does not re-read
-- junk rows in a loop (issue 15 item 1, migration 0013, ledger/store/liveness.py). Each origin is
-- read through its own index range (a LATERAL per origin), then merged by intake_id.
WITH lim AS (SELECT %s::bigint AS n),
o AS (SELECT DISTINCT unnest(%s::text[]) AS origin),
fresh AS (SELECT f.intake_id, f.run_id FROM o CROSS JOIN LATERAL (
              SELECT i.intake_id, i.run_id FROM ledger_intake i
              WHERE i.held_at IS NULL AND i.origin = o.origin
              ORDER BY i.intake_id LIMIT (SELECT n FROM lim)) f
          ORDER BY f.intake_id LIMIT (SELECT n FROM lim)),
kin AS (SELECT i.intake_id FROM ledger_intake i
        WHERE i.held_at IS NOT NULL AND i.run_id IN (SELECT run_id FROM fresh)
          AND i.origin IN (SELECT origin FROM o)
        ORDER BY i.intake_id LIMIT (SELECT n FROM lim)),
quota AS (SELECT greatest((SELECT n FROM lim) - (SELECT count(*) FROM fresh),
                          (SELECT n FROM lim) / 10, 1) AS n),
held AS (SELECT h.intake_id FROM o CROSS JOIN LATERAL (
             SELECT i.intake_id, i.held_at FROM ledger_intake i
             WHERE i.held_at IS NOT NULL AND i.origin = o.origin
               AND i.held_at < now() - interval '1 second'
             ORDER BY i.held_at, i.intake_id LIMIT (SELECT n FROM quota)) h
         ORDER BY h.held_at, h.intake_id LIMIT (SELECT n FROM quota)),
picked AS (SELECT intake_id FROM fresh UNION SELECT intake_id FROM kin
           UNION SELECT intake_id FROM held)
SELECT i.intake_id, i.event_id, i.origin, i.run_id::text, i.run_seq, i.body,
       (SELECT k.origin FROM ledger_event_keys k WHERE k.event_id = i.event_id) AS stored,
       i.submitted_by::text
-- (an array of ids: a primary-key probe each, whatever the planner guesses of the LIMITs)
FROM ledger_intake i WHERE i.intake_id = ANY (ARRAY(SELECT intake_id FROM picked))
ORDER BY i.intake_id

-- run_heads --
-- One backward index probe per run (a DISTINCT ON over the runs' rows read every event of every
-- run in the batch, and writers interleave thousands of runs per batch).
-- With the log the run belongs to and its last event's type (closed runs: store/runrules.py).
SELECT r.run_id, h.run_seq, h.leaf_hash, h.origin, h.type
FROM unnest(%b::uuid[]) AS r(run_id)
CROSS JOIN LATERAL (SELECT run_seq, leaf_hash, origin, type FROM ledger_events e
                    WHERE e.run_id = r.run_id ORDER BY e.run_seq DESC LIMIT 1) AS h

-- latest_checkpoint --
SELECT tree_size, root_hash, note, frontier, created_at
FROM ledger_checkpoints WHERE origin = %s ORDER BY tree_size DESC LIMIT 1

-- all_checkpoints --
SELECT tree_size, root_hash, note FROM ledger_checkpoints WHERE origin = %s ORDER BY tree_size

-- delete_intake --
-- the ids come as one array literal ('{1,2,3}'): built by str.join, not element by element
DELETE FROM ledger_intake WHERE intake_id = ANY(%s::bigint[])

-- insert_reject --
INSERT INTO ledger_rejects (intake_id, event_id, origin, body, reason) VALUES (%s, %s, %s, %s, %s)

-- insert_checkpoint --
INSERT INTO ledger_checkpoints
    (origin, tree_size, root_hash, note, frontier, stamp_start, stamp_head, stamp_note)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)

-- notify_appended --
SELECT pg_notify('ledger_appended', %s)

-- copy_events --
COPY ledger_events (origin, seq, event_id, run_id, run_seq, type, occurred_at, body, leaf_hash,
                    recorded_at, submitted_by)
FROM STDIN (FORMAT BINARY)

-- copy_verify --
COPY (SELECT seq, event_id, run_id, run_seq, type, occurred_at, body, leaf_hash
      FROM ledger_events WHERE origin = %s ORDER BY seq) TO STDOUT (FORMAT BINARY)

-- verify_batch --
-- One seq range of an origin as a few aggregated values for the bulk verify pass: the bodies
-- as one JSON array (with their lengths to split it again), the stored leaf hashes, and the
-- projection columns as one line per event. The client checks the seqs it is given.
SELECT count(*), string_agg(seq::text, ','), string_agg(length(body)::text, ','),
       '['::bytea || string_agg(body, ','::bytea) || ']'::bytea,
       string_agg(leaf_hash, ''::bytea),
       string_agg(event_id::text || ' ' || run_id::text || ' ' || run_seq::text || ' ' || type
                  || ' ' || (extract(epoch FROM occurred_at) * 1000000)::int8::text, E'\n')
FROM (SELECT * FROM ledger_events WHERE origin = %s AND seq >= %s AND seq < %s ORDER BY seq) AS batch

-- verify_rows_outside --
SELECT EXISTS (SELECT 1 FROM ledger_events WHERE origin = %s AND (seq < 0 OR seq >= %s))

-- origins --
-- The log's origins by a skip scan of the (origin, type, seq) index, one probe per origin: a
-- plain DISTINCT reads every event (the board asks for this at each paint).
WITH RECURSIVE found AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > found.origin
            ORDER BY e.origin LIMIT 1)
    FROM found WHERE found.origin IS NOT NULL
)
SELECT origin FROM found WHERE origin IS NOT NULL
UNION SELECT DISTINCT origin FROM ledger_checkpoints ORDER BY 1

-- run_events --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events WHERE run_id = %s ORDER BY run_seq

-- event_by_id --
SELECT origin, seq, recorded_at, body, leaf_hash FROM ledger_events WHERE event_id = %s

-- list_runs --
-- Runs by their first event, as runs_started_between (sql/queries/replay_reads.sql) lists them.
-- Cost: one index entry per run and column (ledger_events_run walked backwards), never a pass
-- over each run's events: a run's stored run_seq runs 0..n-1 without gaps (the sequencer holds
-- a gapped event, `ledger verify` checks it), so its last run_seq + 1 is its event count, and
-- run.ended is looked for from the run's end (where an ended run has it).
SELECT s.run_id, s.origin, s.body, s.recorded_at,
       (SELECT c.run_seq + 1 FROM ledger_events c WHERE c.run_id = s.run_id
        ORDER BY c.run_seq DESC LIMIT 1) AS event_count,
       (SELECT e.body FROM ledger_events e WHERE e.run_id = s.run_id AND e.type = 'run.ended'
        ORDER BY e.run_seq DESC LIMIT 1) AS end_body,
       (SELECT h.type FROM ledger_events h WHERE h.run_id = s.run_id
        ORDER BY h.run_seq DESC LIMIT 1) = 'run.suspended' AS suspended
FROM ledger_events s
WHERE s.run_seq = 0
  AND (s.type IN ('run.started', 'run.ended', 'message.input', 'message.output', 'prompt.resolved',
                 'llm.call.started', 'llm.call.ended', 'tool.call.started', 'tool.call.ended',
                 'guardrail.evaluated', 'error.raised')
       OR EXISTS (SELECT 1 FROM ledger_events n WHERE n.run_id = s.run_id AND n.run_seq = 1))
  AND (((%(since)s::timestamptz IS NULL OR s.recorded_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR s.recorded_at < %(until)s))
    OR ((%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)))
ORDER BY s.occurred_at, s.seq

-- intake_count --
SELECT count(*) FROM ledger_intake

-- event_count --
SELECT count(*) FROM ledger_events

-- run_head --
-- Through the tenant-scoped read API (migration 0010): a writer sees only its tenant's runs.
SELECT run_seq, leaf_hash, body FROM ledger_run_head(%(run_id)s)

-- run_started_event --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE origin = %s AND run_id = %s AND run_seq = 0 AND type = 'run.started'

-- role_abilities --
-- What the connected role may do (ledger/store/confine.py): sequence, and read subject keys
-- (writers confined by migration 0010 may neither). Checked on the table the step writes.
SELECT has_table_privilege('ledger_events', 'INSERT')
       AND has_table_privilege('ledger_intake', 'DELETE'),
       has_table_privilege('ledger_subject_keys', 'SELECT')
