-- Reads of the release gate (replay/gate/selector.py): which recorded runs a selector names, with
-- the gate tag their run.started carries (issue 19, contract 1).

-- gate_runs --
-- Runs by their first event (run_seq 0, as list_runs lists them) whose start matches every bound
-- filter (NULL: not filtering): the gate tag's label and suite (run.started's
-- data.attributes.gate), the agent name and version, the run's versions at start (prompt, model,
-- policy hash prefix: hex only, checked by the parser, so no LIKE wildcard can come in; a run
-- that records none takes the one its gate tag names, the pack `gate run` judged it by), the
-- tenant, and the window on the first event's recorded_at or occurred_at. Single-event
-- control-plane runs (a gate.result, a stop, a published policy) are not runs of an agent: left
-- out as list_runs leaves them out.
-- Cost: one row per run through the partial index ledger_events_run_first (run_seq = 0, one
-- entry per run), each first body parsed once; no other event of a run is read here.
WITH firsts AS (
    SELECT s.run_id, s.origin, s.seq, s.type, s.occurred_at,
           convert_from(s.body, 'UTF8')::jsonb AS doc
    FROM ledger_events s
    WHERE s.run_seq = 0
      AND (s.type IN ('run.started', 'run.ended', 'message.input', 'message.output',
                      'prompt.resolved', 'llm.call.started', 'llm.call.ended',
                      'tool.call.started', 'tool.call.ended', 'guardrail.evaluated',
                      'error.raised')
           OR EXISTS (SELECT 1 FROM ledger_events n WHERE n.run_id = s.run_id AND n.run_seq = 1))
      AND (((%(since)s::timestamptz IS NULL OR s.recorded_at >= %(since)s)
            AND (%(until)s::timestamptz IS NULL OR s.recorded_at < %(until)s))
        OR ((%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
            AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)))
)
SELECT f.run_id, f.origin, f.type,
       CASE WHEN f.type = 'run.started' THEN f.doc #> '{data,attributes,gate}' END AS gate,
       f.doc #>> '{agent,name}', f.doc #>> '{agent,version}', f.doc ->> 'tenant',
       f.doc #>> '{versions,prompt_version}', f.doc #>> '{versions,model}',
       COALESCE(f.doc #>> '{versions,policy_hash}', f.doc #>> '{data,attributes,gate,policy_hash}'),
       f.doc #>> '{versions,tool_contract_digest}'
FROM firsts f
WHERE (%(label)s::text IS NULL OR (f.type = 'run.started'
                                   AND f.doc #>> '{data,attributes,gate,label}' = %(label)s))
  AND (%(suite)s::text IS NULL OR (f.type = 'run.started'
                                   AND f.doc #>> '{data,attributes,gate,suite}' = %(suite)s))
  AND (%(agent)s::text IS NULL OR f.doc #>> '{agent,name}' = %(agent)s)
  AND (%(agent_version)s::text IS NULL OR f.doc #>> '{agent,version}' = %(agent_version)s)
  AND (%(prompt)s::text IS NULL OR f.doc #>> '{versions,prompt_version}' = %(prompt)s)
  AND (%(model)s::text IS NULL OR f.doc #>> '{versions,model}' = %(model)s)
  AND (%(policy)s::text IS NULL
       OR starts_with(COALESCE(f.doc #>> '{versions,policy_hash}',
                               f.doc #>> '{data,attributes,gate,policy_hash}'), %(policy)s::text))
  AND (%(tenant)s::text IS NULL OR f.doc ->> 'tenant' = %(tenant)s)
ORDER BY f.occurred_at, f.seq

-- gate_tag_policies --
-- The policy hash each run's gate tag names (`ledger gate run` tags its attempts with the pack
-- in force it judges them by): the policy of a gate attempt whose envelope records none.
SELECT run_id, convert_from(body, 'UTF8')::jsonb #>> '{data,attributes,gate,policy_hash}'
FROM ledger_events
WHERE run_id = ANY(%(runs)s::uuid[]) AND type = 'run.started'
