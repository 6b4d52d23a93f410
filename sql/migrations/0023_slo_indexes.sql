-- Behaviour SLIs (issue 19, `ledger slo`): the few events of a run the SLIs read, by index.
-- `ledger slo` over a 1M-event log reads each run's start and end (0014, 0022) and, per run,
-- only its escalation events and its errored tool calls; without these partial indexes each
-- run's every event was fetched to find them. Both are small (rare event types; calls whose
-- body holds `"status":"error"`, a byte search done once at insert, no JSON parse) and cost
-- the sequencer's COPY one type comparison per row for the others.
CREATE INDEX IF NOT EXISTS ledger_events_escalations ON ledger_events (run_id)
    WHERE type IN ('approval.requested', 'policy.decided');
CREATE INDEX IF NOT EXISTS ledger_events_call_errors ON ledger_events (run_id)
    WHERE type = 'tool.call.ended' AND position('"status":"error"'::bytea IN body) > 0;
