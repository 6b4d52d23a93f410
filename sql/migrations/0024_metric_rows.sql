-- Live metrics (issue 19; exporters/metrics): one projection of a log's events onto metric rows,
-- used both to seed the counters when `ledger serve --metrics-addr` starts (grouped, in SQL)
-- and to fold what is sequenced afterwards (row by row, in Python). One definition, so the
-- numbers after a restart agree with the numbers a running server counted.
--
-- kind: runs (a = agent, b = version, c = status) | tool_calls (a = tool, b = side_effect of its
-- tool.call.started, c = outcome) | decisions (a = decision, b = mode) | llm (a = agent; amount
-- = cost in USD, tokens_in, tokens_out) | approval_wait (a = decision; wait = seconds from the
-- request to the decision by the sequencer's recorded_at, NULL when the request is not found).
-- Bodies that are not JSON project to nothing (ledger_body_json is NULL); missing labels are ''.
--
-- A plain SQL function (no SET, not SECURITY DEFINER) so PostgreSQL inlines it and plans each
-- use with its arguments: the seed (the whole log: hash joins) and the follower (a batch: index
-- probes of the batch's runs) get different plans. No index is added: an index over
-- tool.call.started would cost every sequenced tool call a JSON parse on the write path.
CREATE OR REPLACE FUNCTION ledger_metric_rows(p_origin text, p_from bigint, p_to bigint)
RETURNS TABLE(seq bigint, kind text, a text, b text, c text, amount numeric,
              tokens_in bigint, tokens_out bigint, wait float8)
LANGUAGE sql STABLE
AS $$
    WITH ev AS MATERIALIZED (
        SELECT e.seq, e.type, e.run_id, e.recorded_at, j.b, j.b -> 'data' AS d
        FROM ledger_events e
        CROSS JOIN LATERAL (SELECT ledger_body_json(e.body) AS b) j
        WHERE e.origin = p_origin AND e.seq >= p_from AND (p_to IS NULL OR e.seq < p_to)
          AND e.type IN ('run.ended', 'tool.call.ended', 'policy.decided', 'llm.call.ended',
                         'approval.decided')
          AND j.b IS NOT NULL
    ), starts AS (
        -- the seed: every tool.call.started of the log, one pass of the type index
        SELECT t.run_id, ledger_body_json(t.body) -> 'data' AS d
        FROM ledger_events t
        WHERE p_from = 0 AND t.origin = p_origin AND t.type = 'tool.call.started'
        UNION ALL
        -- a batch: the tool.call.started of the runs whose calls ended in it (run index)
        SELECT t.run_id, ledger_body_json(t.body) -> 'data'
        FROM (SELECT DISTINCT ev.run_id FROM ev WHERE ev.type = 'tool.call.ended') r
        CROSS JOIN LATERAL (
            SELECT x.run_id, x.body FROM ledger_events x
            WHERE x.run_id = r.run_id AND x.type = 'tool.call.started') t
        WHERE p_from > 0
    ), tagged AS (
        -- started and ended calls side by side; a window (a sort, never a nested loop,
        -- whatever the planner estimates) gives each ended call the side effect of its start
        SELECT y.seq, y.type, y.run_id, y.recorded_at, y.b, y.d, y.side_effect
        FROM (
            SELECT x.*, max(x.side) OVER (PARTITION BY x.run_id, x.call_id) AS side_effect
            FROM (SELECT ev.seq, ev.type, ev.run_id, ev.recorded_at, ev.b, ev.d,
                         ev.d ->> 'tool_call_id' AS call_id, NULL::text AS side
                  FROM ev WHERE ev.type = 'tool.call.ended'
                  UNION ALL
                  SELECT NULL::bigint, NULL::text, st.run_id, NULL::timestamptz, NULL::jsonb,
                         NULL::jsonb, st.d ->> 'tool_call_id',
                         coalesce(st.d ->> 'side_effect', 'false')
                  FROM starts st) x
        ) y
        WHERE y.seq IS NOT NULL
    ), ended AS (
        SELECT ev.seq, ev.type, ev.run_id, ev.recorded_at, ev.b, ev.d, NULL::text AS side_effect
        FROM ev WHERE ev.type <> 'tool.call.ended'
        UNION ALL
        SELECT * FROM tagged
    )
    SELECT ev.seq,
           CASE ev.type WHEN 'run.ended' THEN 'runs' WHEN 'tool.call.ended' THEN 'tool_calls'
                        WHEN 'policy.decided' THEN 'decisions' WHEN 'llm.call.ended' THEN 'llm'
                        ELSE 'approval_wait' END,
           CASE ev.type WHEN 'tool.call.ended' THEN coalesce(ev.d ->> 'tool', '')
                        WHEN 'policy.decided' THEN coalesce(ev.d ->> 'decision', '')
                        WHEN 'approval.decided' THEN coalesce(ev.d ->> 'decision', '')
                        ELSE coalesce(ev.b -> 'agent' ->> 'name', '') END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.b -> 'agent' ->> 'version', '')
                        WHEN 'tool.call.ended' THEN coalesce(ev.side_effect, 'false')
                        WHEN 'policy.decided' THEN coalesce(ev.d ->> 'mode', '')
                        ELSE '' END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.d ->> 'status', 'succeeded')
                        WHEN 'tool.call.ended' THEN coalesce(ev.d ->> 'status', '')
                        ELSE '' END,
           CASE WHEN ev.type = 'llm.call.ended'
                 AND ev.d -> 'cost' ->> 'amount_usd' ~ '^[0-9]{1,30}(\.[0-9]{1,30})?$'
                THEN (ev.d -> 'cost' ->> 'amount_usd')::numeric ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended'
                 AND ev.d -> 'usage' ->> 'input_tokens' ~ '^[0-9]{1,15}$'
                THEN (ev.d -> 'usage' ->> 'input_tokens')::bigint ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended'
                 AND ev.d -> 'usage' ->> 'output_tokens' ~ '^[0-9]{1,15}$'
                THEN (ev.d -> 'usage' ->> 'output_tokens')::bigint ELSE 0 END,
           extract(epoch FROM ev.recorded_at - r.requested_at)::float8
    FROM ended ev
    LEFT JOIN LATERAL (
        SELECT q.recorded_at AS requested_at FROM ledger_events q
        WHERE ev.type = 'approval.decided'
          AND q.run_id = CASE WHEN ev.d ->> 'call_run_id' ~ '^[0-9a-f-]{36}$'
                              THEN (ev.d ->> 'call_run_id')::uuid ELSE ev.run_id END
          AND q.type = 'approval.requested'
          AND ledger_body_json(q.body) -> 'data' ->> 'approval_id' = ev.d ->> 'approval_id'
        ORDER BY q.run_seq LIMIT 1) r ON true
$$;
