-- Reads of the log that replay needs (ledger/store/read.py): a set of runs, the runs of a time
-- window, tool calls by other runs, decisions recorded outside a run, and the bulk shapes of
-- `ledger check` (one row per run). Each statement starts with a "-- name --" header line.

-- runs_events --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE run_id = ANY(%s::uuid[]) ORDER BY run_id, run_seq

-- runs_with_tool_calls --
SELECT DISTINCT run_id FROM ledger_events
WHERE type IN ('tool.call.started', 'tool.call.ended')
  AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)

-- tool_calls_since --
SELECT seq, recorded_at, body, leaf_hash, origin FROM ledger_events
WHERE type IN ('tool.call.started', 'tool.call.ended') AND occurred_at >= %s
  AND NOT (run_id = ANY(%s::uuid[])) ORDER BY seq

-- runs_started_between --
-- Runs by their first event (run_seq 0): every run that starts with run.started or another
-- in-run type, and every run of more than one event (no run.started: listed, so
-- capture.run_started fails it, never hidden; single-event control runs stay out). In the window when the first event's recorded_at (the sequencer's
-- clock, which the writer cannot date) or its occurred_at (the writer's; back-filled history)
-- falls in [since, until): back-dating a run cannot move it out of a window of the record.
SELECT run_id FROM ledger_events WHERE run_seq = 0
  AND (type IN ('run.started', 'run.ended', 'message.input', 'message.output', 'prompt.resolved',
               'llm.call.started', 'llm.call.ended', 'tool.call.started', 'tool.call.ended',
               'guardrail.evaluated', 'error.raised')
       OR EXISTS (SELECT 1 FROM ledger_events n WHERE n.run_id = ledger_events.run_id AND n.run_seq = 1))
  AND (((%(since)s::timestamptz IS NULL OR recorded_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR recorded_at < %(until)s))
    OR ((%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)))
ORDER BY occurred_at, seq

-- decisions_for_calls --
-- Decisions naming any of the given tool calls, in one origin (index of migration 0006).
SELECT origin, seq, recorded_at, body, leaf_hash, run_id FROM ledger_events
WHERE type = 'approval.decided' AND origin = %s
  AND ledger_decided_call(body) = ANY(%s::text[]) ORDER BY seq

-- runs_joined --
-- One row per run: its bodies newline-joined in run order, seqs and record times as arrays.
-- Versus one row per event this halves client CPU (no per-row protocol/adaptation work) and
-- server time (no row-by-row output, no wide sort to disk).
SELECT uuid_send(run_id), (array_agg(origin ORDER BY run_seq))[1],
       array_agg(seq ORDER BY run_seq), array_agg(recorded_at ORDER BY run_seq),
       string_agg(body, '\x0a'::bytea ORDER BY run_seq)
FROM ledger_events WHERE run_id = ANY(%s::uuid[]) GROUP BY run_id

-- runs_rows --
SELECT uuid_send(run_id), origin, seq, recorded_at, body FROM ledger_events
WHERE run_id = ANY(%s::uuid[])

-- decisions_rows --
SELECT uuid_send(run_id), origin, seq, recorded_at, body FROM ledger_events
WHERE type = 'approval.decided' AND origin = %s AND ledger_decided_call(body) = ANY(%s::text[])
