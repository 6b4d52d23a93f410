-- Run continuity (issue 17): suspended runs, kept by the sequencer from the log, and the read
-- API a resuming process (any process, any host) needs to continue a run's chain.
--
-- * ledger_suspended_runs: one row per run whose last sequenced event is `run.suspended`. The
--   sequencer (ledger/store/continuity.py) writes it inside the batch transaction that stores
--   the events: a run.suspended inserts (or replaces) the row, a later run.resumed or run.ended
--   of that run deletes it. So the table is a function of the log, never edited by hand.
--   `ledger serve` ends runs idle there longer than LEDGER_ABANDON_AFTER as `abandoned`.
-- * Writers, readers and operators read it only through the SECURITY DEFINER functions below,
--   with 0010's visibility rule (ledger_api_visible): a writer sees its own tenant only.
-- * The read API also looks into intake: a run suspended a moment ago in another process may
--   not be sequenced yet, and a resumer must continue from the newest event, logged or not.

CREATE TABLE IF NOT EXISTS ledger_suspended_runs (
    run_id             uuid PRIMARY KEY,
    origin             text        NOT NULL,
    resume_key         text,
    suspended_event_id uuid        NOT NULL,
    suspended_seq      bigint      NOT NULL,
    recorded_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_suspended_runs_key
    ON ledger_suspended_runs (origin, resume_key, suspended_seq);
CREATE INDEX IF NOT EXISTS ledger_suspended_runs_idle ON ledger_suspended_runs (recorded_at);

REVOKE ALL ON ledger_suspended_runs FROM PUBLIC;
REVOKE ALL ON ledger_suspended_runs FROM ledger_writer, ledger_reader, ledger_operator;
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger_suspended_runs TO ledger_sequencer;

-- The newest event of every run of one log, logged or in intake: (run_id, run_seq, type, body).
-- Internal (no grants): the functions below call it as the owner.
CREATE OR REPLACE FUNCTION ledger_run_newest(p_origin text, p_run uuid)
    RETURNS TABLE (run_seq bigint, leaf_hash bytea, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT h.run_seq, h.leaf_hash, h.body FROM (
        SELECT e.run_seq, e.leaf_hash, e.body FROM public.ledger_events e
        WHERE e.run_id = p_run AND e.origin = p_origin
        UNION ALL
        SELECT i.run_seq, NULL, i.body FROM public.ledger_intake i
        WHERE i.run_id = p_run AND i.origin = p_origin
    ) AS h ORDER BY h.run_seq DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION ledger_run_newest(text, uuid) FROM PUBLIC;

-- The newest suspended run of log p_origin with resume key p_key whose newest event (logged
-- or still in intake) is that suspension: not resumed, not ended. NULL when none is visible.
CREATE OR REPLACE FUNCTION ledger_suspended_run(p_origin text, p_key text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT c.run_id FROM (
        SELECT s.run_id, s.suspended_event_id AS event_id, 1 AS src, s.suspended_seq AS pos
        FROM public.ledger_suspended_runs s
        WHERE s.origin = p_origin AND s.resume_key = p_key
        UNION ALL
        SELECT i.run_id, i.event_id, 2, i.intake_id FROM public.ledger_intake i
        CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(i.body, 'UTF8')::pg_catalog.jsonb
                            AS j) AS x
        WHERE i.origin = p_origin AND x.j ->> 'type' = 'run.suspended'
          AND x.j -> 'data' ->> 'resume_key' = p_key
    ) AS c
    CROSS JOIN LATERAL public.ledger_run_newest(p_origin, c.run_id) AS h
    WHERE public.ledger_api_visible(p_origin, NULL)
      AND (pg_catalog.convert_from(h.body, 'UTF8')::pg_catalog.jsonb ->> 'event_id')::uuid
          = c.event_id
    ORDER BY c.src DESC, c.pos DESC LIMIT 1
$$;

-- What a resumer needs of run p_run: its log, its head (run_seq, leaf hash: NULL while in
-- intake, body), its run.started body and its newest run.suspended body. No row: not visible.
CREATE OR REPLACE FUNCTION ledger_run_resume_point(p_run uuid)
    RETURNS TABLE (origin text, head_seq bigint, head_leaf bytea, head_body bytea,
                   started_body bytea, suspended_body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH o AS (  -- the logged first event wins over one in intake (a run is one log's)
        SELECT y.origin, y.body FROM (
            SELECT e.origin, e.body, 1 AS src FROM public.ledger_events e
            WHERE e.run_id = p_run AND e.run_seq = 0
            UNION ALL
            SELECT i.origin, i.body, 2 FROM public.ledger_intake i
            WHERE i.run_id = p_run AND i.run_seq = 0
        ) AS y ORDER BY y.src LIMIT 1
    )
    SELECT o.origin, h.run_seq, h.leaf_hash, h.body, o.body,
           (SELECT y.body FROM (
                SELECT e.run_seq, e.body FROM public.ledger_events e
                WHERE e.run_id = p_run AND e.origin = o.origin AND e.type = 'run.suspended'
                UNION ALL
                SELECT i.run_seq, i.body FROM public.ledger_intake i
                WHERE i.run_id = p_run AND i.origin = o.origin
                  AND pg_catalog.convert_from(i.body, 'UTF8')::pg_catalog.jsonb ->> 'type'
                      = 'run.suspended'
            ) AS y ORDER BY y.run_seq DESC LIMIT 1)
    FROM o CROSS JOIN LATERAL public.ledger_run_newest(o.origin, p_run) AS h
    WHERE public.ledger_api_visible(o.origin, o.body)
$$;

-- Approval requests of run p_run with no decision yet (logged or in intake), oldest first:
-- what a new handler in a new process decides (`ledger.pending_approvals`).
CREATE OR REPLACE FUNCTION ledger_pending_approvals(p_run uuid)
    RETURNS TABLE (approval_id text, tool_call_id text, tool text, args_hash text,
                   requested_event_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH req AS (
        SELECT y.origin, y.event_id, y.run_seq, x.j -> 'data' AS d, y.body
        FROM (SELECT e.origin, e.event_id, e.run_seq, e.body FROM public.ledger_events e
              WHERE e.run_id = p_run AND e.type = 'approval.requested'
              UNION ALL
              SELECT i.origin, i.event_id, i.run_seq, i.body FROM public.ledger_intake i
              WHERE i.run_id = p_run) AS y
        CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(y.body, 'UTF8')::pg_catalog.jsonb
                            AS j) AS x
        WHERE x.j ->> 'type' = 'approval.requested' AND x.j -> 'data' ? 'approval_id'
    )
    SELECT q.d ->> 'approval_id', q.d ->> 'tool_call_id', q.d ->> 'tool', q.d ->> 'args_hash',
           q.event_id
    FROM req q
    WHERE public.ledger_api_visible(q.origin, q.body)
      AND NOT EXISTS (
          SELECT 1 FROM public.ledger_events e
          WHERE e.origin = q.origin AND e.type = 'approval.decided'
            AND public.ledger_decided_call(e.body) = q.d ->> 'tool_call_id'
            AND pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb -> 'data'
                ->> 'approval_id' = q.d ->> 'approval_id')
      AND NOT EXISTS (
          SELECT 1 FROM public.ledger_intake i
          CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(i.body, 'UTF8')::pg_catalog.jsonb
                              AS j) AS x
          WHERE i.origin = q.origin AND x.j ->> 'type' = 'approval.decided'
            AND x.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id'
            AND x.j -> 'data' ->> 'approval_id' = q.d ->> 'approval_id')
    ORDER BY q.run_seq
$$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['ledger_suspended_run(text, text)',
                             'ledger_run_resume_point(uuid)',
                             'ledger_pending_approvals(uuid)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ledger_writer, ledger_sequencer, '
                       'ledger_reader, ledger_operator', f);
    END LOOP;
END
$$;
