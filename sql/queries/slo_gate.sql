-- Which runs the SLIs leave out as gate runs (replay/slo/gateruns.py, issue 19 finding 6).
-- Each starts with a "-- name --" header.

-- slo_gate_judged --
-- The run ids an operator-recorded gate.result lists as evidence (data.tasks[].run_ids). Only
-- these are gate runs for the SLIs: gate.result is a control-plane event (writers cannot write
-- it, ledger/store/controlplane.py), whereas a run's gate tag is the writer's own claim and
-- would let it hide failing production runs. Origins by a skip scan of the (origin, type, seq)
-- index, then one index range per origin (gate results are a handful among millions).
WITH RECURSIVE found AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > found.origin
            ORDER BY e.origin LIMIT 1)
    FROM found WHERE found.origin IS NOT NULL
), tasks AS (
    SELECT t.task
    FROM found f
    CROSS JOIN LATERAL (
        SELECT convert_from(e.body, 'UTF8')::jsonb #> '{data,tasks}' AS tasks
        FROM ledger_events e
        WHERE e.origin = f.origin AND e.type = 'gate.result') g
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(g.tasks) = 'array' THEN g.tasks ELSE '[]'::jsonb END) AS t(task)
    WHERE f.origin IS NOT NULL
)
SELECT DISTINCT r.id::uuid
FROM tasks
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(task -> 'run_ids') = 'array' THEN task -> 'run_ids'
         ELSE '[]'::jsonb END) AS r(id)
WHERE r.id ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

-- slo_gate_unjudged --
-- Runs started in the window (slo_groups' filters: since, until, agent, tenant) whose writer
-- tagged them as gate runs (run.started data.attributes.gate, contract 1) although no gate
-- result lists them (%(gate_runs)s): counted as live traffic, and reported per version set.
SELECT f.doc #>> '{agent,name}', f.doc #>> '{agent,version}',
       f.doc #>> '{versions,prompt_version}', f.doc #>> '{versions,model}',
       f.doc #>> '{versions,policy_hash}', f.doc #>> '{versions,tool_contract_digest}',
       count(*)
FROM (SELECT s.run_id, convert_from(s.body, 'UTF8')::jsonb AS doc
      FROM ledger_events s
      WHERE s.run_seq = 0 AND s.type = 'run.started'
        AND position('"gate":'::bytea IN s.body) > 0
        AND (%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)
        AND (%(tenant)s::text IS NULL OR s.origin LIKE '%%/' || %(tenant)s)) AS f
WHERE jsonb_typeof(f.doc #> '{data,attributes,gate}') = 'object'
  AND f.run_id <> ALL(%(gate_runs)s::uuid[])
  AND (%(agent)s::text IS NULL OR f.doc #>> '{agent,name}' = %(agent)s)
GROUP BY 1, 2, 3, 4, 5, 6
