-- What `ledger prove TARGET` may mean: an event id, a seq of a log, a tool_call_id
-- (ledger/proofs.py `resolve_event`). Each returns (origin, event_id) rows; %s origin NULL
-- means every log.

-- prove_seq_in_origin --
SELECT origin, event_id FROM ledger_events WHERE origin = %s AND seq = %s

-- prove_seq_in_any_origin --
-- The distinct origins by a loose index scan of the primary key (origin, seq), then one
-- primary-key probe per origin: no scan of the log, whatever its size.
WITH RECURSIVE o(origin) AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > o.origin
            ORDER BY e.origin LIMIT 1)
    FROM o WHERE o.origin IS NOT NULL
)
SELECT e.origin, e.event_id FROM o JOIN ledger_events e ON e.origin = o.origin AND e.seq = %s
ORDER BY e.origin

-- prove_tool_call_started --
-- The intents (tool.call.started) recorded under a tool_call_id: what `ledger check` cites.
SELECT origin, event_id FROM ledger_events
WHERE type = 'tool.call.started' AND ledger_decided_call(body) = %s
  AND (%s::text IS NULL OR origin = %s::text)
ORDER BY origin, seq
LIMIT 20
