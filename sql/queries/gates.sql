-- Release-gate results (issue 19, ledger/store/gates.py). Each starts with a "-- name --" header.

-- gate_results --
-- Every gate.result of the given origins (all of them when %(origins)s is NULL), newest first.
-- The origins come from a skip scan of the (origin, type, seq) index, then one index range per
-- origin: gate results are a handful among millions of run events, never a full scan.
WITH RECURSIVE found AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > found.origin
            ORDER BY e.origin LIMIT 1)
    FROM found WHERE found.origin IS NOT NULL
)
SELECT g.event_id, g.seq, g.recorded_at, g.origin, g.body
FROM found f
CROSS JOIN LATERAL (
    SELECT e.event_id, e.seq, e.recorded_at, e.origin, e.body FROM ledger_events e
    WHERE e.origin = f.origin AND e.type = 'gate.result'
) g
WHERE f.origin IS NOT NULL
  AND (%(origins)s::text[] IS NULL OR f.origin = ANY(%(origins)s::text[]))
ORDER BY g.recorded_at DESC, g.seq DESC

-- agent_versions --
-- Every version tuple an agent's runs started under (run.started envelopes: agent.version and
-- versions.*; a gate attempt that records no policy_hash: the one its gate tag names, the pack
-- `gate run` judged it by), with how many runs and when first and last seen, newest first. One pass over
-- each log's run.started events through the (origin, type, seq) index.
WITH RECURSIVE found AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > found.origin
            ORDER BY e.origin LIMIT 1)
    FROM found WHERE found.origin IS NOT NULL
), started AS (
    SELECT s.recorded_at, convert_from(s.body, 'UTF8')::jsonb AS doc
    FROM found f
    CROSS JOIN LATERAL (
        SELECT e.recorded_at, e.body FROM ledger_events e
        WHERE e.origin = f.origin AND e.type = 'run.started'
    ) s
    WHERE f.origin IS NOT NULL
)
SELECT doc #>> '{agent,version}', doc #>> '{versions,prompt_version}',
       doc #>> '{versions,model}',
       COALESCE(doc #>> '{versions,policy_hash}', doc #>> '{data,attributes,gate,policy_hash}'),
       doc #>> '{versions,tool_contract_digest}',
       count(*), min(recorded_at), max(recorded_at)
FROM started
WHERE doc #>> '{agent,name}' = %(agent)s
GROUP BY 1, 2, 3, 4, 5
ORDER BY max(recorded_at) DESC, 1, 2, 3, 4, 5
