-- Live metrics (issue 19; exporters/metrics): one projection of a log's events onto metric rows,
-- used both to seed the counters when `ledger serve --metrics-addr` starts (grouped, in SQL)
-- and to fold what is sequenced afterwards (row by row, in Python). One definition, so the
-- numbers after a restart agree with the numbers a running server counted.
--
-- kind: runs (a = agent, b = version, c = status) | tool_calls (a = tool, b = side_effect,
-- c = outcome) | decisions (a = decision, b = mode) | llm (a = agent; amount = cost in USD,
-- tokens_in, tokens_out) | approval_wait (a = decision; wait = seconds from request to decision,
-- by the sequencer's recorded_at, NULL when the request is not in this log).
-- Bodies that are not JSON project to nothing (ledger_body_json is NULL); missing labels are ''.
CREATE OR REPLACE FUNCTION ledger_metric_rows(p_origin text, p_from bigint, p_to bigint)
RETURNS TABLE(seq bigint, kind text, a text, b text, c text, amount numeric,
              tokens_in bigint, tokens_out bigint, wait float8)
LANGUAGE sql STABLE
SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $$
    SELECT e.seq,
           CASE e.type WHEN 'run.ended' THEN 'runs' WHEN 'tool.call.ended' THEN 'tool_calls'
                       WHEN 'policy.decided' THEN 'decisions' WHEN 'llm.call.ended' THEN 'llm'
                       ELSE 'approval_wait' END,
           CASE e.type WHEN 'tool.call.ended' THEN coalesce(j.d ->> 'tool', '')
                       WHEN 'policy.decided' THEN coalesce(j.d ->> 'decision', '')
                       WHEN 'approval.decided' THEN coalesce(j.d ->> 'decision', '')
                       ELSE coalesce(j.b -> 'agent' ->> 'name', '') END,
           CASE e.type WHEN 'run.ended' THEN coalesce(j.b -> 'agent' ->> 'version', '')
                       WHEN 'tool.call.ended' THEN coalesce(s.side_effect, 'false')
                       WHEN 'policy.decided' THEN coalesce(j.d ->> 'mode', '')
                       ELSE '' END,
           CASE e.type WHEN 'run.ended' THEN coalesce(j.d ->> 'status', 'succeeded')
                       WHEN 'tool.call.ended' THEN coalesce(j.d ->> 'status', '')
                       ELSE '' END,
           CASE WHEN e.type = 'llm.call.ended' AND j.d -> 'cost' ->> 'amount_usd' ~ '^[0-9]+(\.[0-9]+)?$'
                THEN (j.d -> 'cost' ->> 'amount_usd')::numeric ELSE 0 END,
           CASE WHEN jsonb_typeof(j.d -> 'usage' -> 'input_tokens') = 'number'
                THEN (j.d -> 'usage' ->> 'input_tokens')::numeric::bigint ELSE 0 END,
           CASE WHEN jsonb_typeof(j.d -> 'usage' -> 'output_tokens') = 'number'
                THEN (j.d -> 'usage' ->> 'output_tokens')::numeric::bigint ELSE 0 END,
           extract(epoch FROM e.recorded_at - r.requested_at)::float8
    FROM ledger_events e
    CROSS JOIN LATERAL (SELECT ledger_body_json(e.body) AS b) jb
    CROSS JOIN LATERAL (SELECT jb.b AS b, jb.b -> 'data' AS d) j
    LEFT JOIN LATERAL (
        SELECT x.body_side AS side_effect FROM (
            SELECT ledger_body_json(t.body) -> 'data' AS xd,
                   ledger_body_json(t.body) -> 'data' ->> 'side_effect' AS body_side
            FROM ledger_events t
            WHERE e.type = 'tool.call.ended' AND t.run_id = e.run_id
              AND t.type = 'tool.call.started') x
        WHERE x.xd ->> 'tool_call_id' = j.d ->> 'tool_call_id'
        LIMIT 1) s ON true
    LEFT JOIN LATERAL (
        SELECT q.recorded_at AS requested_at FROM ledger_events q
        WHERE e.type = 'approval.decided'
          AND q.run_id = CASE WHEN j.d ->> 'call_run_id' ~ '^[0-9a-f-]{36}$'
                              THEN (j.d ->> 'call_run_id')::uuid ELSE e.run_id END
          AND q.type = 'approval.requested'
          AND ledger_body_json(q.body) -> 'data' ->> 'approval_id' = j.d ->> 'approval_id'
        LIMIT 1) r ON true
    WHERE e.origin = p_origin AND e.seq >= p_from AND (p_to IS NULL OR e.seq < p_to)
      AND e.type IN ('run.ended', 'tool.call.ended', 'policy.decided', 'llm.call.ended',
                     'approval.decided')
      AND j.b IS NOT NULL
$$;
