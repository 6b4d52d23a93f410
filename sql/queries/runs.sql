-- Reads of `ledger runs` (ledger/store/runs.py): one page of runs, filtered, sorted and limited
-- here, so 10k runs cost one query and the page size, never a Python pass over every run.

-- runs_page --
-- The runs listed as list_runs / runs_started_between list them (by their first event), with
-- every filter bound (NULL: not filtering): window on the first event's recorded_at or
-- occurred_at, tenant not `exercise-*` unless %(exercises)s (the tabletop's tenants; a log's
-- origin ends in its tenant), agent, initiating user, lifecycle status (run.ended's status, else
-- suspended/running), a given set of runs (--failing). The first columns are the counts before
-- the limit (`total`; `hidden`: exercise runs the other filters matched, --exercises not given),
-- on every row and on the one row (run_id NULL) of an empty page.
-- Cost: a run's event count is its last run_seq + 1 and run.ended is looked for from its end
-- (list_runs in sql/queries.sql says why), one index entry each. The filters and counts read
-- only the first events' rows (a filter off is a constant the
-- planner drops: no body is parsed); status and event count are computed for every run only
-- when a filter or the sort needs them, else for the page's rows alone, as is `imported`.
WITH firsts AS (
    SELECT s.run_id, s.origin, s.seq, s.type AS first_type, s.occurred_at,
           s.origin ~ '/exercise-[^/]*$' AS exercise,
           CASE WHEN %(sort)s = 'agent'
                THEN convert_from(s.body, 'UTF8')::jsonb #>> '{agent,name}' END AS agent_key,
           CASE WHEN %(statuses)s::text[] IS NOT NULL OR %(sort)s = 'status' THEN coalesce(
               (SELECT convert_from(e.body, 'UTF8')::jsonb #>> '{data,status}'
                FROM ledger_events e WHERE e.run_id = s.run_id AND e.type = 'run.ended'
                ORDER BY e.run_seq DESC LIMIT 1),
               CASE WHEN (SELECT h.type FROM ledger_events h WHERE h.run_id = s.run_id
                          ORDER BY h.run_seq DESC LIMIT 1) = 'run.suspended'
                    THEN 'suspended' ELSE 'running' END) END AS status,
           CASE WHEN %(sort)s = 'events' THEN
               (SELECT c.run_seq + 1 FROM ledger_events c WHERE c.run_id = s.run_id
                ORDER BY c.run_seq DESC LIMIT 1) END AS events
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
      AND (%(only)s::uuid[] IS NULL OR s.run_id = ANY(%(only)s::uuid[]))
      AND (%(agent)s::text IS NULL
           OR convert_from(s.body, 'UTF8')::jsonb #>> '{agent,name}' = %(agent)s)
      AND (%(initiator)s::text IS NULL
           OR convert_from(s.body, 'UTF8')::jsonb #>> '{principal,initiating_user}'
              = %(initiator)s)
), matched AS MATERIALIZED (
    SELECT * FROM firsts
    WHERE %(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[])
), totals AS (
    SELECT count(*) FILTER (WHERE NOT exercise OR %(exercises)s) AS total,
           count(*) FILTER (WHERE exercise AND NOT %(exercises)s) AS hidden
    FROM matched
), page AS (
    SELECT * FROM matched
    WHERE NOT exercise OR %(exercises)s
    ORDER BY agent_key ASC NULLS LAST, CASE WHEN %(sort)s = 'status' THEN status END ASC,
             events DESC, occurred_at DESC, seq DESC
    LIMIT %(limit)s
), parsed AS (
    SELECT p.*, (SELECT convert_from(b.body, 'UTF8')::jsonb FROM ledger_events b
                 WHERE b.origin = p.origin AND b.seq = p.seq) AS doc
    FROM page p
), shown AS (
    SELECT p.*, p.doc #>> '{agent,name}' AS agent,
           coalesce(p.status,
               (SELECT convert_from(e.body, 'UTF8')::jsonb #>> '{data,status}'
                FROM ledger_events e WHERE e.run_id = p.run_id AND e.type = 'run.ended'
                ORDER BY e.run_seq DESC LIMIT 1),
               CASE WHEN (SELECT h.type FROM ledger_events h WHERE h.run_id = p.run_id
                          ORDER BY h.run_seq DESC LIMIT 1) = 'run.suspended'
                    THEN 'suspended' ELSE 'running' END) AS lifecycle,
           coalesce(p.events,
               (SELECT c.run_seq + 1 FROM ledger_events c WHERE c.run_id = p.run_id
                ORDER BY c.run_seq DESC LIMIT 1)) AS event_count
    FROM parsed p
)
SELECT t.total, t.hidden, r.run_id, r.origin, r.first_type, r.agent,
       r.doc #>> '{principal,initiating_user}', r.doc ->> 'occurred_at', r.lifecycle,
       r.event_count, r.exercise,
       EXISTS (SELECT 1 FROM ledger_events i WHERE i.run_id = r.run_id
               AND convert_from(i.body, 'UTF8') LIKE '%%"trust":"imported"%%'
               AND convert_from(i.body, 'UTF8')::jsonb ->> 'trust' = 'imported') AS imported
FROM totals t LEFT JOIN shown r ON TRUE
ORDER BY r.agent_key ASC NULLS LAST, CASE WHEN %(sort)s = 'status' THEN r.status END ASC, r.events DESC, r.occurred_at DESC, r.seq DESC

-- run_seq_bounds --
-- `ledger replay --at`: the seq of the run's first event and the head of its log (the last seq
-- an --at can name); no row for a run with no events.
SELECT min(r.seq), (SELECT max(o.seq) FROM ledger_events o WHERE o.origin = r.origin)
FROM ledger_events r WHERE r.run_id = %s GROUP BY r.origin
