-- Enforcement before each tool call (issue 16, slice "enforce").
--
-- * ledger_run_totals: the running cost / token / unknown-cost totals of each enforced run, kept
--   by the database so a run spread over processes, workers or resumes is counted once. Written
--   ONLY by ledger_run_totals_add, which the intake statement (`submit_events_totals`) calls with
--   the per-event deltas of the rows it actually inserted; every event is counted at most once
--   (ledger_run_totals_seen, keyed by event_id), deltas below zero are refused, and a writer may
--   only add to runs of the origins it is bound to. The totals come back with the same
--   acknowledgement (one round trip). Replay never trusts them: it recounts from the record.
-- * ledger_run_totals_of: the totals of one run (a run resumed in another process starts there).
-- * ledger_call_approvals: the approvals requested in a run for (tool, args_hash), with their
--   decision if one was recorded (a retry after a restart reuses the pending tool_call_id, and
--   a waiting hook polls it). Same hardening as the 0010 read API.

CREATE TABLE IF NOT EXISTS ledger_run_totals (
    run_id             uuid PRIMARY KEY,
    origin             text        NOT NULL,
    cost_usd           numeric     NOT NULL DEFAULT 0,
    total_tokens       bigint      NOT NULL DEFAULT 0,
    unknown_cost_calls bigint      NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ledger_run_totals_seen (
    event_id uuid PRIMARY KEY,
    run_id   uuid NOT NULL
);
REVOKE ALL ON ledger_run_totals, ledger_run_totals_seen FROM PUBLIC;
REVOKE ALL ON ledger_run_totals, ledger_run_totals_seen FROM ledger_writer;
GRANT SELECT ON ledger_run_totals TO ledger_reader, ledger_operator;

CREATE OR REPLACE FUNCTION ledger_run_totals_add(
    p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[],
    p_unknown bigint[])
    RETURNS TABLE (run_id uuid, cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_ids IS NULL OR pg_catalog.cardinality(p_ids) = 0 THEN
        RETURN;
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
    IF EXISTS (SELECT 1 FROM unnest(p_runs, p_origins) AS d(r, o)
               JOIN public.ledger_run_totals t ON t.run_id = d.r WHERE t.origin <> d.o) THEN
        RAISE EXCEPTION 'run totals: run belongs to another origin' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    WITH d AS (
        SELECT * FROM unnest(p_ids, p_origins, p_runs, p_cost, p_tokens, p_unknown)
                      AS d(event_id, origin, run_id, c, t, u)
    ), fresh AS (  -- zero deltas count nothing: only events that move a total are remembered
        INSERT INTO public.ledger_run_totals_seen AS s (event_id, run_id)
        SELECT DISTINCT ON (d.event_id) d.event_id, d.run_id FROM d
        WHERE d.c <> 0 OR d.t <> 0 OR d.u <> 0
        ON CONFLICT (event_id) DO NOTHING
        RETURNING s.event_id
    ), sums AS (
        SELECT d.run_id, min(d.origin) AS origin,
               coalesce(sum(d.c) FILTER (WHERE f.event_id IS NOT NULL), 0) AS dc,
               coalesce(sum(d.t) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS dt,
               coalesce(sum(d.u) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS du
        FROM d LEFT JOIN fresh f ON f.event_id = d.event_id GROUP BY d.run_id
    ), up AS (
        INSERT INTO public.ledger_run_totals AS r
               (run_id, origin, cost_usd, total_tokens, unknown_cost_calls)
        SELECT x.run_id, x.origin, x.dc, x.dt, x.du FROM sums x
        WHERE x.dc <> 0 OR x.dt <> 0 OR x.du <> 0
        ON CONFLICT ON CONSTRAINT ledger_run_totals_pkey DO UPDATE
           SET cost_usd = r.cost_usd + excluded.cost_usd,
               total_tokens = r.total_tokens + excluded.total_tokens,
               unknown_cost_calls = r.unknown_cost_calls + excluded.unknown_cost_calls,
               updated_at = now()
        RETURNING r.run_id, r.cost_usd, r.total_tokens, r.unknown_cost_calls
    ), unchanged AS (  -- runs this batch did not move: read, never written
        SELECT x.run_id FROM sums x WHERE x.dc = 0 AND x.dt = 0 AND x.du = 0
    )
    SELECT up.run_id, up.cost_usd, up.total_tokens, up.unknown_cost_calls FROM up
    UNION ALL
    SELECT u.run_id, coalesce(r.cost_usd, 0), coalesce(r.total_tokens, 0),
           coalesce(r.unknown_cost_calls, 0)
    FROM unchanged u LEFT JOIN public.ledger_run_totals r ON r.run_id = u.run_id;
END
$$;

CREATE OR REPLACE FUNCTION ledger_run_totals_of(p_run uuid)
    RETURNS TABLE (cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.cost_usd, t.total_tokens, t.unknown_cost_calls FROM public.ledger_run_totals t
    WHERE t.run_id = p_run AND public.ledger_api_visible(t.origin, NULL)
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
