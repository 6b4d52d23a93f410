-- Enforcement before each tool call (issue 16, slice "enforce").
--
-- * ledger_run_totals: the running cost / token / unknown-cost totals of each enforced run, kept
--   by the database so a run spread over processes, workers or resumes is counted once. Keyed
--   by (origin, run_id, agent): a run id claimed in another tenant (or by another agent of the
--   same tenant) makes a separate row and never touches the run's own. Written ONLY by
--   ledger_run_totals_add, which the intake statement (`submit_events_totals`) calls with the
--   per-event deltas of the rows it actually inserted. A writer's delta counts only for an
--   event it submitted itself that is still in ledger_intake with the same origin and run (the
--   rows the statement just inserted are visible to the function: it runs after the INSERT's
--   RETURNING rows are aggregated); the agent is the one that event's body names (the intake
--   RLS already checked the writer may write it). Every event is counted at most once
--   (ledger_run_totals_seen, pruned of events already sequenced: those never reach intake
--   again); deltas must be finite, non-negative and bounded. Reads (ledger_run_totals_of and
--   the unchanged runs of a batch) show a writer only its tenant and, when bound to an agent,
--   that agent's rows. The owner, sequencer and operator are trusted (no intake check): they
--   write the log anyway. Replay never trusts the totals: it recounts from the record.
-- * ledger_run_totals_of: the totals of one run (a run resumed in another process starts there).
-- * ledger_call_approvals: the approvals requested in a run for (tool, args_hash), with their
--   decision if one was recorded (a retry after a restart reuses the pending tool_call_id, and
--   a waiting hook polls it). Same hardening as the 0010 read API.

CREATE TABLE IF NOT EXISTS ledger_run_totals (
    origin             text        NOT NULL,
    run_id             uuid        NOT NULL,
    agent              text        NOT NULL DEFAULT '',  -- '' = no agent known (trusted adds)
    cost_usd           numeric     NOT NULL DEFAULT 0,
    total_tokens       bigint      NOT NULL DEFAULT 0,
    unknown_cost_calls bigint      NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, run_id, agent)
);
CREATE INDEX IF NOT EXISTS ledger_run_totals_run ON ledger_run_totals (run_id);
CREATE TABLE IF NOT EXISTS ledger_run_totals_seen (
    event_id uuid PRIMARY KEY,
    run_id   uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_run_totals_seen_run ON ledger_run_totals_seen (run_id);
REVOKE ALL ON ledger_run_totals, ledger_run_totals_seen FROM PUBLIC;
REVOKE ALL ON ledger_run_totals, ledger_run_totals_seen FROM ledger_writer;
GRANT SELECT ON ledger_run_totals TO ledger_reader, ledger_operator;

-- May the caller see the totals row of (origin, agent)? ledger_api_visible with a body naming
-- the agent: a writer bound to an agent sees only that agent's rows ('' = none: tenant-wide
-- writers only). Called inside the SECURITY DEFINER functions below (session_user decides).
CREATE OR REPLACE FUNCTION ledger_run_totals_visible(o text, agent text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT public.ledger_api_visible(o, pg_catalog.convert_to(pg_catalog.jsonb_build_object(
        'agent', pg_catalog.jsonb_build_object('name', NULLIF(agent, '')))::text, 'UTF8'))
$$;

CREATE OR REPLACE FUNCTION ledger_run_totals_add(
    p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[],
    p_unknown bigint[])
    RETURNS TABLE (run_id uuid, cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n integer := pg_catalog.cardinality(p_ids);
    trusted boolean;
BEGIN
    IF p_ids IS NULL OR n = 0 THEN
        RETURN;
    END IF;
    -- unnest pads shorter arrays with NULL: every array must be as long as p_ids, no NULLs
    IF n IS DISTINCT FROM pg_catalog.cardinality(p_origins)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_runs)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_cost)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_tokens)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_unknown)
       OR pg_catalog.array_position(p_ids, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_origins, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_runs, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_cost, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_tokens, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_unknown, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'run totals: arrays of unequal length or with NULLs'
            USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_origins) AS o(origin)
               WHERE NOT public.ledger_api_visible(o.origin, NULL)) THEN
        RAISE EXCEPTION 'run totals: origin not writable by %', session_user
            USING ERRCODE = '42501';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_cost, p_tokens, p_unknown) AS d(c, t, u)
               WHERE d.c < 0 OR d.t < 0 OR d.u < 0) THEN
        RAISE EXCEPTION 'run totals: negative delta' USING ERRCODE = '22023';
    END IF;
    -- NaN sorts above every number and Infinity is not < 0: both would poison a total forever
    IF EXISTS (SELECT 1 FROM unnest(p_cost, p_tokens, p_unknown) AS d(c, t, u)
               WHERE d.c = 'NaN'::numeric OR d.c >= 1e12
                  OR d.t >= 1000000000000000 OR d.u >= 1000000000000000) THEN
        RAISE EXCEPTION 'run totals: delta not finite or out of range' USING ERRCODE = '22023';
    END IF;
    trusted := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)
        OR pg_catalog.pg_has_role(session_user,
                                  (SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid = 'public.ledger_events'::pg_catalog.regclass),
                                  'MEMBER')
        OR pg_catalog.pg_has_role(session_user, 'ledger_sequencer', 'MEMBER')
        OR pg_catalog.pg_has_role(session_user, 'ledger_operator', 'MEMBER');
    -- a writer's delta counts only for an event it submitted itself, still in intake
    IF NOT trusted AND EXISTS (
            SELECT 1 FROM unnest(p_ids, p_origins, p_runs, p_cost, p_tokens, p_unknown)
                              AS d(event_id, origin, run_id, c, t, u)
            WHERE (d.c <> 0 OR d.t <> 0 OR d.u <> 0)
              AND NOT EXISTS (SELECT 1 FROM public.ledger_intake i
                              WHERE i.event_id = d.event_id AND i.origin = d.origin
                                AND i.run_id = d.run_id AND i.submitted_by = session_user)) THEN
        RAISE EXCEPTION 'run totals: delta for an event not submitted by %', session_user
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM public.ledger_run_totals_seen s USING public.ledger_events e
    WHERE s.run_id = ANY(p_runs) AND e.event_id = s.event_id;  -- sequenced: never again
    RETURN QUERY
    WITH b AS (  -- the agent is the one the event's own body names ('' if none is known)
        SELECT d.event_id, d.origin, d.run_id, d.c, d.t, d.u,
               coalesce(public.ledger_body_agent(coalesce(i.body, e.body)), '') AS agent,
               (d.c <> 0 OR d.t <> 0 OR d.u <> 0) AS moves
        FROM unnest(p_ids, p_origins, p_runs, p_cost, p_tokens, p_unknown)
                 AS d(event_id, origin, run_id, c, t, u)
        LEFT JOIN public.ledger_intake i ON i.event_id = d.event_id AND i.origin = d.origin
        LEFT JOIN public.ledger_events e ON e.event_id = d.event_id AND e.origin = d.origin
    ), fresh AS (  -- zero deltas count nothing: only events that move a total are remembered
        INSERT INTO public.ledger_run_totals_seen AS s (event_id, run_id)
        SELECT DISTINCT ON (b.event_id) b.event_id, b.run_id
        FROM b WHERE b.moves
        ON CONFLICT (event_id) DO NOTHING
        RETURNING s.event_id
    ), sums AS (
        SELECT b.origin, b.run_id, b.agent,
               coalesce(sum(b.c) FILTER (WHERE f.event_id IS NOT NULL), 0) AS dc,
               coalesce(sum(b.t) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS dt,
               coalesce(sum(b.u) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS du
        FROM b LEFT JOIN fresh f ON f.event_id = b.event_id
        GROUP BY b.origin, b.run_id, b.agent
    ), up AS (
        INSERT INTO public.ledger_run_totals AS r
               (origin, run_id, agent, cost_usd, total_tokens, unknown_cost_calls)
        SELECT x.origin, x.run_id, x.agent, x.dc, x.dt, x.du FROM sums x
        WHERE x.dc <> 0 OR x.dt <> 0 OR x.du <> 0
        ON CONFLICT ON CONSTRAINT ledger_run_totals_pkey DO UPDATE
           SET cost_usd = r.cost_usd + excluded.cost_usd,
               total_tokens = r.total_tokens + excluded.total_tokens,
               unknown_cost_calls = r.unknown_cost_calls + excluded.unknown_cost_calls,
               updated_at = now()
        RETURNING r.run_id, r.cost_usd, r.total_tokens, r.unknown_cost_calls
    ), unchanged AS (  -- runs this batch did not move: read, never written
        SELECT x.origin, x.run_id, x.agent FROM sums x
        WHERE x.dc = 0 AND x.dt = 0 AND x.du = 0
          AND public.ledger_run_totals_visible(x.origin, x.agent)
    )
    SELECT up.run_id, up.cost_usd, up.total_tokens, up.unknown_cost_calls FROM up
    UNION ALL
    SELECT u.run_id, coalesce(r.cost_usd, 0), coalesce(r.total_tokens, 0),
           coalesce(r.unknown_cost_calls, 0)
    FROM unchanged u LEFT JOIN public.ledger_run_totals r
         ON r.origin = u.origin AND r.run_id = u.run_id AND r.agent = u.agent;
END
$$;

CREATE OR REPLACE FUNCTION ledger_run_totals_of(p_run uuid)
    RETURNS TABLE (cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.cost_usd, t.total_tokens, t.unknown_cost_calls FROM public.ledger_run_totals t
    WHERE t.run_id = p_run AND public.ledger_run_totals_visible(t.origin, t.agent)
    ORDER BY t.updated_at DESC
$$;

-- Requests of the run (logged or still in intake) for this tool and args hash, newest first,
-- with the latest decision recorded for that approval_id and tool_call_id in the same origin.
CREATE OR REPLACE FUNCTION ledger_call_approvals(
    p_origin text, p_run uuid, p_tool text, p_args_hash text)
    RETURNS TABLE (approval_id text, tool_call_id text, requested_event_id uuid,
                   decided_event_id uuid, decision text, approver text, roles jsonb,
                   signed boolean, decided_args_hash text, edited_args_hash text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH req AS (
        SELECT x.event_id, x.run_seq, x.j -> 'data' AS d
        FROM (SELECT y.event_id, y.run_seq,
                     pg_catalog.convert_from(y.body, 'UTF8')::pg_catalog.jsonb AS j FROM (SELECT e.event_id, e.run_seq, e.body FROM public.ledger_events e
              WHERE e.origin = p_origin AND e.run_id = p_run AND e.type = 'approval.requested'
              UNION ALL
              SELECT i.event_id, i.run_seq, i.body FROM public.ledger_intake i
              WHERE i.origin = p_origin AND i.run_id = p_run) AS y) AS x
        WHERE public.ledger_api_visible(p_origin, NULL) AND x.j ->> 'type' = 'approval.requested'
    )
    SELECT q.d ->> 'approval_id', q.d ->> 'tool_call_id', q.event_id, dec.event_id,
           dec.d ->> 'decision', dec.d -> 'approver' ->> 'id', dec.d -> 'approver' -> 'roles',
           (dec.d ->> 'signature') IS NOT NULL, dec.d ->> 'args_hash',
           dec.d ->> 'edited_args_hash'
    FROM req q
    LEFT JOIN LATERAL (  -- the newest: one still in intake, else the latest logged
        SELECT y.event_id, y.d FROM (
            SELECT e.event_id, 1 AS src, e.seq AS pos,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb -> 'data' AS d
            FROM public.ledger_events e
            WHERE e.origin = p_origin AND e.type = 'approval.decided'
              AND public.ledger_decided_call(e.body) = q.d ->> 'tool_call_id'
            UNION ALL
            SELECT i.event_id, 2, i.intake_id, j.j -> 'data'
            FROM public.ledger_intake i
            CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(i.body, 'UTF8')::pg_catalog.jsonb
                                AS j) AS j
            WHERE i.origin = p_origin AND j.j ->> 'type' = 'approval.decided'
              AND j.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id'
        ) AS y
        WHERE y.d ->> 'approval_id' = q.d ->> 'approval_id'
        ORDER BY y.src DESC, y.pos DESC LIMIT 1
    ) AS dec ON true
    WHERE q.d ->> 'tool' = p_tool AND q.d ->> 'args_hash' = p_args_hash
      AND q.d ? 'approval_id'
    ORDER BY q.run_seq DESC
$$;

DO $$
DECLARE f text;
BEGIN
    REVOKE ALL ON FUNCTION ledger_run_totals_visible(text, text) FROM PUBLIC;
    FOREACH f IN ARRAY ARRAY['ledger_run_totals_of(uuid)',
                             'ledger_call_approvals(text, uuid, text, text)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ledger_writer, ledger_sequencer, '
                       'ledger_reader, ledger_operator', f);
    END LOOP;
    EXECUTE 'REVOKE ALL ON FUNCTION ledger_run_totals_add(uuid[], text[], uuid[], numeric[], '
            'bigint[], bigint[]) FROM PUBLIC';
    EXECUTE 'GRANT EXECUTE ON FUNCTION ledger_run_totals_add(uuid[], text[], uuid[], '
            'numeric[], bigint[], bigint[]) TO ledger_writer, ledger_sequencer, ledger_operator';
END
$$;
