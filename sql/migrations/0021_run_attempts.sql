-- Attempt numbers across a resume (issue 17): which attempt of each tool call a run has
-- recorded, so `ledger.resume` (ledger/hooks/continuity.py) continues them in any process: a
-- call run again after the resume is attempt N+1 of its tool_call_id, whatever integration
-- recorded the first N. Logged events and those still in intake (no sequencer needed), with
-- the visibility rule of ledger_run_resume_point (0019): the run's first event decides.
CREATE OR REPLACE FUNCTION ledger_run_attempts(p_run uuid)
    RETURNS TABLE (tool_call_id text, attempts integer)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH o AS (  -- the logged first event wins over one in intake (a run is one log's)
        SELECT y.origin, y.body FROM (
            SELECT e.origin, e.body, 1 AS src FROM public.ledger_events e
            WHERE e.run_id = p_run AND e.run_seq = 0
            UNION ALL
            SELECT i.origin, i.body, 2 FROM public.ledger_intake i
            WHERE i.run_id = p_run AND i.run_seq = 0
        ) AS y ORDER BY y.src LIMIT 1
    ), starts AS (  -- each start once: an event may be both logged and still in intake
        SELECT DISTINCT ON (s.event_id) s.event_id, s.j -> 'data' AS d FROM (
            SELECT e.event_id,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb AS j
            FROM public.ledger_events e JOIN o ON e.origin = o.origin
            WHERE e.run_id = p_run AND e.type = 'tool.call.started'
            UNION ALL
            SELECT i.event_id, public.ledger_body_json(i.body)  -- NULL for bytes not JSON (0020)
            FROM public.ledger_intake i JOIN o ON i.origin = o.origin
            WHERE i.run_id = p_run
        ) AS s
        WHERE s.j ->> 'type' = 'tool.call.started'
    )
    SELECT s.d ->> 'tool_call_id',
           greatest(count(*), max(
               CASE WHEN pg_catalog.jsonb_typeof(s.d -> 'attempt') = 'number'
                    THEN least((s.d ->> 'attempt')::numeric, 1000000000)
                    ELSE 1 END))::integer
    FROM starts s CROSS JOIN o
    WHERE public.ledger_api_visible(o.origin, o.body) AND s.d ->> 'tool_call_id' IS NOT NULL
    GROUP BY s.d ->> 'tool_call_id'
$$;

REVOKE ALL ON FUNCTION ledger_run_attempts(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_run_attempts(uuid)
    TO ledger_writer, ledger_sequencer, ledger_reader, ledger_operator;
