-- Reads of `ledger runs` (ledger/store/runs.py): one page of runs, filtered, sorted and limited
-- here, so 10k runs cost one query and the page size, never a Python pass over every run.

-- runs_page --
-- The runs listed as list_runs / runs_started_between list them (by their first event), with
-- every filter bound (NULL: not filtering): window on the first event's recorded_at or
-- occurred_at, tenant not `exercise-*` unless %(exercises)s (the tabletop's tenants), agent,
-- initiating user, lifecycle status (run.ended's status, else suspended/running), a given set
-- of runs (--failing). The first columns are the counts before the limit (`total`; `hidden`:
-- exercise runs the other filters matched, --exercises not given), on every row and on the one
-- row (run_id NULL) of an empty page. Only the page's rows pay for the `trust: imported` scan (all their events).
WITH firsts AS (
    SELECT s.run_id, s.origin, s.seq, s.type AS first_type, s.occurred_at,
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
      AND (%(only)s::uuid[] IS NULL OR s.run_id = ANY(%(only)s::uuid[]))
), described AS (
    SELECT f.run_id, f.origin, f.seq, f.first_type, f.occurred_at,
           f.doc #>> '{agent,name}' AS agent,
           f.doc #>> '{principal,initiating_user}' AS initiator,
           f.doc ->> 'occurred_at' AS started,
           coalesce(f.doc ->> 'tenant', '') LIKE 'exercise-%%' AS exercise
    FROM firsts f
), matched AS (
    SELECT d.*,
           (SELECT count(*) FROM ledger_events c WHERE c.run_id = d.run_id) AS event_count,
           coalesce(
               (SELECT convert_from(e.body, 'UTF8')::jsonb #>> '{data,status}'
                FROM ledger_events e WHERE e.run_id = d.run_id AND e.type = 'run.ended'
                ORDER BY e.run_seq LIMIT 1),
               CASE WHEN (SELECT h.type FROM ledger_events h WHERE h.run_id = d.run_id
                          ORDER BY h.run_seq DESC LIMIT 1) = 'run.suspended'
                    THEN 'suspended' ELSE 'running' END) AS status
    FROM described d
    WHERE (%(agent)s::text IS NULL OR d.agent = %(agent)s)
      AND (%(initiator)s::text IS NULL OR d.initiator = %(initiator)s)
), counted AS (
    SELECT m.* FROM matched m
    WHERE %(statuses)s::text[] IS NULL OR m.status = ANY(%(statuses)s::text[])
), totals AS (
    SELECT count(*) FILTER (WHERE NOT exercise OR %(exercises)s) AS total,
           count(*) FILTER (WHERE exercise AND NOT %(exercises)s) AS hidden
    FROM counted
), page AS (
    SELECT * FROM counted
    WHERE NOT exercise OR %(exercises)s
    ORDER BY CASE WHEN %(sort)s = 'agent' THEN agent END ASC NULLS LAST,
             CASE WHEN %(sort)s = 'status' THEN status END ASC,
             CASE WHEN %(sort)s = 'events' THEN event_count END DESC,
             occurred_at DESC, seq DESC
    LIMIT %(limit)s
)
SELECT t.total, t.hidden, p.run_id, p.origin, p.first_type, p.agent, p.initiator, p.started,
       p.status, p.event_count, p.exercise,
       EXISTS (SELECT 1 FROM ledger_events i WHERE i.run_id = p.run_id
               AND convert_from(i.body, 'UTF8') LIKE '%%"trust":"imported"%%'
               AND convert_from(i.body, 'UTF8')::jsonb ->> 'trust' = 'imported') AS imported
FROM totals t LEFT JOIN page p ON TRUE
ORDER BY CASE WHEN %(sort)s = 'agent' THEN p.agent END ASC NULLS LAST,
         CASE WHEN %(sort)s = 'status' THEN p.status END ASC,
         CASE WHEN %(sort)s = 'events' THEN p.event_count END DESC,
         p.occurred_at DESC, p.seq DESC

-- run_seq_bounds --
-- `ledger replay --at`: the seq of the run's first event and the head of its log (the last seq
-- an --at can name); no row for a run with no events.
SELECT min(r.seq), (SELECT max(o.seq) FROM ledger_events o WHERE o.origin = r.origin)
FROM ledger_events r WHERE r.run_id = %s GROUP BY r.origin
