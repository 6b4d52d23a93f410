-- Live metrics (issue 19; exporters/metrics): one projection of a log's events onto metric rows,
-- used both to seed the counters when `ledger serve --metrics-addr` starts (grouped, in SQL)
-- and to fold what is sequenced afterwards (row by row, in Python). One definition, so the
-- numbers after a restart agree with the numbers a running server counted.
--
-- kind: runs (a = agent, b = version, c = status) | tool_calls (a = tool, b = side_effect of its
-- tool.call.started, c = outcome) | decisions (a = decision, b = mode) | llm (a = agent; amount
-- = cost in USD, tokens_in, tokens_out) | approval_wait (a = decision; wait = seconds from the
-- request to the decision by the sequencer's recorded_at, NULL when the request is not found).
-- Missing labels are ''. Logged bodies are JSON (the sequencer validated them: read as every
-- query over ledger_events reads them, a plain cast).
--
-- A plain SQL function (no SET, not SECURITY DEFINER) so PostgreSQL inlines it and plans each
-- use with its arguments: the seed (the whole log: hash joins) and the follower (a batch: index
-- probes of the batch's runs) get different plans. No index is added: an index over
-- tool.call.started would cost every sequenced tool call a JSON parse on the write path.
--
-- Seed cost (1M events, half tool.call.ended, half tool.call.started): each body is parsed once
-- (a LATERAL with OFFSET 0 is never inlined, so the parse is not repeated per use) with a plain
-- cast (ledger_body_json's exception block is a subtransaction per row: twice the cost), and
-- only the fields a metric reads are carried (carrying whole bodies spilled 500 MB to disk).
CREATE OR REPLACE FUNCTION ledger_metric_rows(p_origin text, p_from bigint, p_to bigint)
RETURNS TABLE(seq bigint, kind text, a text, b text, c text, amount numeric,
              tokens_in bigint, tokens_out bigint, wait float8)
LANGUAGE sql STABLE
AS $$
    WITH ev AS MATERIALIZED (
        SELECT e.seq, e.type, e.run_id, e.recorded_at,
               j.b -> 'agent' ->> 'name' AS agent, j.b -> 'agent' ->> 'version' AS version,
               j.b -> 'data' ->> 'tool_call_id' AS call_id, j.b -> 'data' ->> 'tool' AS tool,
               j.b -> 'data' ->> 'status' AS status, j.b -> 'data' ->> 'decision' AS decision,
               j.b -> 'data' ->> 'mode' AS mode,
               j.b -> 'data' -> 'cost' ->> 'amount_usd' AS usd,
               j.b -> 'data' -> 'usage' ->> 'input_tokens' AS t_in,
               j.b -> 'data' -> 'usage' ->> 'output_tokens' AS t_out,
               j.b -> 'data' ->> 'approval_id' AS approval_id,
               j.b -> 'data' ->> 'call_run_id' AS call_run_id
        FROM ledger_events e
        CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS b OFFSET 0) j
        WHERE e.origin = p_origin AND e.seq >= p_from AND (p_to IS NULL OR e.seq < p_to)
          AND e.type IN ('run.ended', 'tool.call.ended', 'policy.decided', 'llm.call.ended',
                         'approval.decided')
    ), starts AS (
        -- the seed: every tool.call.started of the log, one pass of the type index
        SELECT t.run_id, t.body FROM ledger_events t
        WHERE p_from = 0 AND t.origin = p_origin AND t.type = 'tool.call.started'
        UNION ALL
        -- a batch: the tool.call.started of the runs whose calls ended in it (run index)
        SELECT t.run_id, t.body
        FROM (SELECT DISTINCT ev.run_id FROM ev WHERE ev.type = 'tool.call.ended') r
        CROSS JOIN LATERAL (
            SELECT x.run_id, x.body FROM ledger_events x
            WHERE x.run_id = r.run_id AND x.type = 'tool.call.started') t
        WHERE p_from > 0
    ), tagged AS (
        -- started and ended calls side by side; a window (a sort, never a nested loop,
        -- whatever the planner estimates) gives each ended call the side effect of its start
        SELECT y.seq, y.call_id, y.run_id, y.tool, y.status, y.side_effect
        FROM (
            SELECT x.*, max(x.side) OVER (PARTITION BY x.run_id, x.call_id) AS side_effect
            FROM (SELECT ev.seq, ev.run_id, ev.call_id, ev.tool, ev.status, NULL::text AS side
                  FROM ev WHERE ev.type = 'tool.call.ended'
                  UNION ALL
                  SELECT NULL::bigint, st.run_id, d.d ->> 'tool_call_id', NULL::text,
                         NULL::text, coalesce(d.d ->> 'side_effect', 'false')
                  FROM starts st
                  CROSS JOIN LATERAL (SELECT convert_from(st.body, 'UTF8')::jsonb -> 'data'
                                             AS d OFFSET 0) d) x
        ) y
        WHERE y.seq IS NOT NULL
    ), ended AS (
        SELECT ev.seq, ev.type, ev.run_id, ev.recorded_at, ev.agent, ev.version, ev.tool,
               ev.status, ev.decision, ev.mode, ev.usd, ev.t_in, ev.t_out, ev.approval_id,
               ev.call_run_id, NULL::text AS side_effect
        FROM ev WHERE ev.type <> 'tool.call.ended'
        UNION ALL
        SELECT t.seq, 'tool.call.ended', t.run_id, NULL, NULL, NULL, t.tool, t.status, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, t.side_effect
        FROM tagged t
    )
    SELECT ev.seq,
           CASE ev.type WHEN 'run.ended' THEN 'runs' WHEN 'tool.call.ended' THEN 'tool_calls'
                        WHEN 'policy.decided' THEN 'decisions' WHEN 'llm.call.ended' THEN 'llm'
                        ELSE 'approval_wait' END,
           CASE ev.type WHEN 'tool.call.ended' THEN coalesce(ev.tool, '')
                        WHEN 'policy.decided' THEN coalesce(ev.decision, '')
                        WHEN 'approval.decided' THEN coalesce(ev.decision, '')
                        ELSE coalesce(ev.agent, '') END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.version, '')
                        WHEN 'tool.call.ended' THEN coalesce(ev.side_effect, 'false')
                        WHEN 'policy.decided' THEN coalesce(ev.mode, '')
                        ELSE '' END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.status, 'succeeded')
                        WHEN 'tool.call.ended' THEN coalesce(ev.status, '')
                        ELSE '' END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.usd ~ '^[0-9]{1,30}(\.[0-9]{1,30})?$'
                THEN ev.usd::numeric ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.t_in ~ '^[0-9]{1,15}$'
                THEN ev.t_in::bigint ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.t_out ~ '^[0-9]{1,15}$'
                THEN ev.t_out::bigint ELSE 0 END,
           extract(epoch FROM ev.recorded_at - r.requested_at)::float8
    FROM ended ev
    LEFT JOIN LATERAL (
        SELECT q.recorded_at AS requested_at FROM ledger_events q
        WHERE ev.type = 'approval.decided'
          AND q.run_id = CASE WHEN ev.call_run_id ~ '^[0-9a-f-]{36}$'
                              THEN ev.call_run_id::uuid ELSE ev.run_id END
          AND q.type = 'approval.requested'
          AND convert_from(q.body, 'UTF8')::jsonb -> 'data' ->> 'approval_id' = ev.approval_id
        ORDER BY q.run_seq LIMIT 1) r ON true
$$;
