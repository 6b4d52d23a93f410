-- Approval decisions recorded outside the requesting run (issue 5).
--
-- `ledger.decide()` from another process, or after the run ended, writes approval.decided as a
-- single-event run of its own, bound to the call only by data.tool_call_id (+ args_hash). Replay
-- joins such decisions to the run whose call they approve, so it needs to find them by
-- tool_call_id without decoding every decision body. The body is RFC 8785 UTF-8 JSON, so
-- extracting a key from it is deterministic: the wrapper is declared IMMUTABLE (convert_from
-- itself is only STABLE because of arbitrary encodings) to make it indexable.
CREATE OR REPLACE FUNCTION ledger_decided_call(body bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'tool_call_id' $$;

CREATE INDEX IF NOT EXISTS ledger_events_decided_call
    ON ledger_events (origin, ledger_decided_call(body))
    WHERE type = 'approval.decided';
