-- Review r17a (issue 17): fixes to 0019 (each part says why).
-- (1) 0019's read API parsed every intake body of a log as JSON, and a writer can put any bytes
-- into intake (the sequencer rejects them, but holds a gapped row up to LEDGER_HELD_MAX_AGE
-- first). One such row made ledger_suspended_run fail for its whole tenant (every `open_run`,
-- so every integration's run, failed closed), and ledger_run_resume_point fail for that run
-- (stalling `ledger serve`'s abandon pass). Intake bodies are now read with ledger_body_json,
-- NULL for bytes that are not a JSON document: such a row is no suspension, no head event id
-- and no decision, as the sequencer will find. Logged bodies were validated by the sequencer
-- and are read as before.
-- (2) The sequencer role may insert into intake (the abandoned run.ended of `ledger serve`).

CREATE OR REPLACE FUNCTION ledger_body_json(p_body bytea) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN pg_catalog.convert_from(p_body, 'UTF8')::pg_catalog.jsonb;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ledger_body_json(bytea) FROM PUBLIC;

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
        CROSS JOIN LATERAL (SELECT public.ledger_body_json(i.body) AS j) AS x
        WHERE i.origin = p_origin AND x.j ->> 'type' = 'run.suspended'
          AND x.j -> 'data' ->> 'resume_key' = p_key
    ) AS c
    CROSS JOIN LATERAL public.ledger_run_newest(p_origin, c.run_id) AS h
    WHERE public.ledger_api_visible(p_origin, NULL)
      AND public.ledger_body_json(h.body) ->> 'event_id' = c.event_id::text
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
                  AND public.ledger_body_json(i.body) ->> 'type' = 'run.suspended'
            ) AS y ORDER BY y.run_seq DESC LIMIT 1)
    FROM o CROSS JOIN LATERAL public.ledger_run_newest(o.origin, p_run) AS h
    WHERE public.ledger_api_visible(o.origin, o.body)
$$;

-- The approval requests of run p_run, oldest first, each with its newest decision (logged or in
-- intake, in this run or a single-event decision of the same log; NULL: undecided), the args
-- hash the decision released (the edited one for edits), and whether the run has started a
-- call with that tool_call_id since. What a resumer needs: the undecided ones to decide
-- (`ledger.pending_approvals`), the approved-but-not-run ones to bind the retry's call id.
CREATE OR REPLACE FUNCTION ledger_run_approvals(p_run uuid)
    RETURNS TABLE (approval_id text, tool_call_id text, tool text, args_hash text,
                   requested_event_id uuid, decision text, released_args_hash text,
                   started boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH run_events AS (
        SELECT y.origin, y.event_id, y.run_seq, y.body,
               public.ledger_body_json(y.body) AS j
        FROM (SELECT e.origin, e.event_id, e.run_seq, e.body FROM public.ledger_events e
              WHERE e.run_id = p_run
                AND e.type IN ('approval.requested', 'tool.call.started')
              UNION ALL
              SELECT i.origin, i.event_id, i.run_seq, i.body FROM public.ledger_intake i
              WHERE i.run_id = p_run) AS y
    ), req AS (
        SELECT r.origin, r.event_id, r.run_seq, r.body, r.j -> 'data' AS d FROM run_events r
        WHERE r.j ->> 'type' = 'approval.requested' AND r.j -> 'data' ? 'approval_id'
    )
    SELECT q.d ->> 'approval_id', q.d ->> 'tool_call_id', q.d ->> 'tool', q.d ->> 'args_hash',
           q.event_id, dec.d ->> 'decision',
           coalesce(dec.d ->> 'edited_args_hash', dec.d ->> 'args_hash'),
           EXISTS (SELECT 1 FROM run_events s
                   WHERE s.j ->> 'type' = 'tool.call.started' AND s.run_seq > q.run_seq
                     AND s.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id')
    FROM req q
    LEFT JOIN LATERAL (  -- the newest: one still in intake, else the latest logged
        SELECT y.d FROM (
            SELECT 1 AS src, e.seq AS pos,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb -> 'data' AS d
            FROM public.ledger_events e
            WHERE e.origin = q.origin AND e.type = 'approval.decided'
              AND public.ledger_decided_call(e.body) = q.d ->> 'tool_call_id'
            UNION ALL
            SELECT 2, i.intake_id, x.j -> 'data'
            FROM public.ledger_intake i
            CROSS JOIN LATERAL (SELECT public.ledger_body_json(i.body) AS j) AS x
            WHERE i.origin = q.origin AND x.j ->> 'type' = 'approval.decided'
              AND x.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id'
        ) AS y
        WHERE y.d ->> 'approval_id' = q.d ->> 'approval_id'
        ORDER BY y.src DESC, y.pos DESC LIMIT 1
    ) AS dec ON true
    WHERE public.ledger_api_visible(q.origin, q.body)
    ORDER BY q.run_seq
$$;

-- Review r17a: `ledger serve` ends an abandoned run with a run.ended it submits through intake
-- like every event; the least-privilege sequencer role (operations.md) could not insert there.
GRANT INSERT (event_id, origin, run_id, run_seq, body) ON ledger_intake TO ledger_sequencer;
GRANT USAGE ON SEQUENCE ledger_intake_intake_id_seq TO ledger_sequencer;

-- Review r17a: two resumers of one run both read the same head and both record run.resumed at
-- head + 1; the sequencer keeps the one first in intake and rejects the other's events, but
-- the loser's tools would already have run (its intents only durable in intake). A resumer
-- asks, once its run.resumed is durable, which event holds that place: the logged one, else
-- the first in intake (what the sequencer will keep). Not its own: it fails closed.
CREATE OR REPLACE FUNCTION ledger_run_seq_holder(p_run uuid, p_seq bigint) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT y.event_id FROM (
        SELECT e.event_id, e.origin, 1 AS src, 0::bigint AS pos FROM public.ledger_events e
        WHERE e.run_id = p_run AND e.run_seq = p_seq
        UNION ALL
        SELECT i.event_id, i.origin, 2, i.intake_id FROM public.ledger_intake i
        WHERE i.run_id = p_run AND i.run_seq = p_seq
    ) AS y
    WHERE public.ledger_api_visible(y.origin, NULL)
    ORDER BY y.src, y.pos LIMIT 1
$$;
REVOKE ALL ON FUNCTION ledger_run_seq_holder(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_run_seq_holder(uuid, bigint)
    TO ledger_writer, ledger_sequencer, ledger_reader, ledger_operator;
