-- Policy lookup by content address (issue 13).
--
-- `ledger check` (and the demo, and the TUI) find the pack a run ran under by its policy_hash.
-- Until now that decoded every policy.published event in the log to compare one field. The
-- policy_hash is inside the stored canonical body (RFC 8785 UTF-8 JSON, so extracting a key is
-- deterministic), so an expression index over it answers the lookup with one index probe.
-- An index rather than a derived table: it is computed from the hashed bytes themselves, so
-- there is nothing to keep in step (no trigger, no sequencer change, no second copy that could
-- disagree with the log), and it is partial, so it costs nothing for every other event type.
-- The wrapper is declared IMMUTABLE for the same reason as ledger_decided_call (0006).
CREATE OR REPLACE FUNCTION ledger_published_policy(body bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'policy_hash' $$;

CREATE INDEX IF NOT EXISTS ledger_events_published_policy
    ON ledger_events (ledger_published_policy(body), seq)
    WHERE type = 'policy.published';
