-- Behaviour SLIs (issue 19, `ledger slo`): the few events of a run the SLIs read, by index.
-- `ledger slo` over a 1M-event log reads each run's start and end (0014, 0022) and, per run,
-- only its escalation events and the count of its errored tool calls; without these partial
-- indexes each run's every event was fetched to find them. Both are small (rare event types;
-- calls that ended with status "error") and cost the sequencer's COPY one type comparison per
-- row for the others.
--
-- An errored call is decided once, at insert: a byte search (canonical JSON spells the key
-- exactly so) and, only for a body that holds the bytes, a parse of data.status (a result
-- that merely quotes `"status":"error"` is not an error). The index then holds exactly the
-- errored calls, so the SLI counts them from the index alone (an index-only scan: no body is
-- read or parsed at query time). IMMUTABLE for the reason given in 0006: the body is RFC 8785
-- UTF-8, convert_from is only STABLE because of arbitrary encodings.
CREATE OR REPLACE FUNCTION ledger_call_errored(body bytea) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT position('"status":"error"'::bytea IN body) > 0
                 AND convert_from(body, 'UTF8')::jsonb #>> '{data,status}' = 'error' $$;

CREATE INDEX IF NOT EXISTS ledger_events_escalations ON ledger_events (run_id)
    WHERE type IN ('approval.requested', 'policy.decided');
-- Keyed by the call too (data.tool_call_id, through 0006's extractor): the tool-call validity
-- SLI leaves errored calls out of schema checks with one probe per checked call.
CREATE INDEX IF NOT EXISTS ledger_events_call_errors
    ON ledger_events (run_id, ledger_decided_call(body))
    WHERE type = 'tool.call.ended' AND ledger_call_errored(body);

-- The runs of a window are their first events (run_seq 0) of type run.started. The planner
-- multiplies the two selectivities (5 % x 5 % of a 20-events-per-run log: 20x too few runs),
-- so it never gives the parse of 50k run.started bodies to parallel workers; the joint
-- most-common values of (run_seq, type) correct the estimate (ANALYZE keeps them).
CREATE STATISTICS IF NOT EXISTS ledger_events_run_first_stats (mcv)
    ON run_seq, type FROM ledger_events;
