-- Behaviour SLIs (replay/slo/slis.py, issue 19). Each starts with a "-- name --" header.

-- slo_groups --
-- One row per (agent, agent_version, prompt_version, model, policy_hash, tool_contract_digest)
-- of the runs STARTED in the window (their run.started at run_seq 0, by occurred_at; the
-- partial index of migration 0014), with every SLI's numerator and denominator aggregated here,
-- so `ledger slo` over a 1M-event log reads each run's start, its end (0022's index), the few
-- event types the SLIs need, and never folds a run in Python.
-- Parameters (NULL: not filtering): since, until, agent, tenant (a log's origin ends in
-- /<tenant>), include_gate, gate_runs (the ids of runs an operator-recorded gate.result lists
-- as evidence, slo_gate.sql `slo_gate_judged`: counted in `gate_runs` and left out of every
-- SLI unless include_gate; a writer's gate tag alone excludes nothing).
-- Facts: status, spend and tool calls from run.ended (data.totals: cost_usd, tool_calls);
-- latency = run.ended - run.started; tool errors = tool.call.ended status "error" of ended
-- runs (counted from migration 0023's partial index: no body read);
-- required approvals = calls a policy.decided (enforce or shadow) said require_approval, asked
-- = those with an approval.requested of the same tool_call_id in the run; a run whose stored
-- `ledger check` verdicts fail an approval.* rule with no such decision counts one missed
-- escalation; approval wait = the first approval.decided of the call (any run of the log,
-- 0006's index) - approval.requested; compliance from the newest stored verdicts of the run
-- (`unchecked`: runs without any); budget = budgets.max_usd_per_run of the last pack published
-- in the run's log before it started (its scope is not considered); time to stop = run.ended
-- stopped - the stop event it names (or the run's start, for a scope stopped before it began).
WITH runs AS MATERIALIZED (
    SELECT f.run_id, f.origin, f.seq, f.occurred_at AS started_at,
           f.doc #>> '{agent,name}' AS agent, f.doc #>> '{agent,version}' AS agent_version,
           f.doc #>> '{versions,prompt_version}' AS prompt_version,
           f.doc #>> '{versions,model}' AS model,
           f.doc #>> '{versions,policy_hash}' AS policy_hash,
           f.doc #>> '{versions,tool_contract_digest}' AS tool_contract_digest,
           NOT %(include_gate)s AND f.run_id = ANY(%(gate_runs)s::uuid[]) AS skipped
    FROM (SELECT s.run_id, s.origin, s.seq, s.occurred_at,
                 convert_from(s.body, 'UTF8')::jsonb AS doc
          FROM ledger_events s
          WHERE s.run_seq = 0 AND s.type = 'run.started'
            AND (%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
            AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)
            AND (%(tenant)s::text IS NULL OR s.origin LIKE '%%/' || %(tenant)s)
          OFFSET 0) AS f  -- a fence: else every `f.doc` below re-parses the body
    WHERE %(agent)s::text IS NULL OR f.doc #>> '{agent,name}' = %(agent)s
), packs AS MATERIALIZED (
    SELECT p.origin, p.seq,
           convert_from(p.body, 'UTF8')::jsonb #>> '{data,document,budgets,max_usd_per_run}'
               AS max_usd
    FROM ledger_events p WHERE p.type = 'policy.published'
), facts AS (
    SELECT c.*, n.ended_at, n.status, n.spend,
           extract(epoch FROM n.ended_at - c.started_at) AS latency_s,
           CASE WHEN n.status = 'stopped' THEN extract(epoch FROM n.ended_at - greatest(
               c.started_at, (SELECT s.occurred_at FROM ledger_events s
                              WHERE s.event_id = n.stop_event))) END AS stop_s,
           coalesce(n.calls, 0) AS calls, coalesce(t.call_errors, 0) AS call_errors,
           coalesce(k.required, 0) AS required, coalesce(k.escalated, 0) AS escalated,
           coalesce(k.asked, 0) AS asked, coalesce(k.decided, 0) AS decided,
           coalesce(k.wait_s, 0) AS wait_s, v.failing, v.approval_failing,
           (SELECT p.max_usd FROM packs p WHERE p.origin = c.origin AND p.seq < c.seq
            ORDER BY p.seq DESC LIMIT 1)::numeric AS max_usd
    FROM runs c
    -- every lateral below is one index probe (or one run's events) per counted run: no plan
    -- over mis-estimated CTE joins, and gate runs (skipped) read nothing but their start
    LEFT JOIN LATERAL (  -- the body parsed once (LIMIT keeps `x` a subquery, not inlined)
        SELECT x.occurred_at AS ended_at, x.d ->> 'status' AS status,
               (x.d #>> '{totals,cost_usd}')::numeric AS spend,
               (x.d #>> '{stopped_by,stop_event_id}')::uuid AS stop_event,
               (x.d #>> '{totals,tool_calls}')::bigint AS calls
        FROM (SELECT e.occurred_at, convert_from(e.body, 'UTF8')::jsonb -> 'data' AS d
              FROM ledger_events e
              WHERE e.run_id = c.run_id AND e.type = 'run.ended'
              ORDER BY e.run_seq DESC LIMIT 1) AS x) AS n ON NOT c.skipped
    LEFT JOIN LATERAL (
        WITH y AS (  -- the run's escalation events (0023's partial index: no other event read)
            SELECT e.type, e.occurred_at, convert_from(e.body, 'UTF8')::jsonb -> 'data' AS d
            FROM ledger_events e
            WHERE e.run_id = c.run_id AND e.type IN ('approval.requested', 'policy.decided')
        ), needed AS (
            SELECT DISTINCT q.d ->> 'tool_call_id' AS call FROM y q
            WHERE q.type = 'policy.decided'
              AND 'require_approval' IN (q.d ->> 'decision', q.d ->> 'would_be')
        ), asked AS (
            SELECT a.d ->> 'tool_call_id' AS call, a.occurred_at,
                   (SELECT min(x.occurred_at) FROM ledger_events x
                    WHERE x.origin = c.origin AND x.type = 'approval.decided'
                      AND ledger_decided_call(x.body) = a.d ->> 'tool_call_id') AS decided_at
            FROM y a WHERE a.type = 'approval.requested'
        )
        SELECT (SELECT count(*) FROM needed) AS required,
               (SELECT count(*) FROM needed q
                WHERE EXISTS (SELECT 1 FROM asked a WHERE a.call = q.call)) AS escalated,
               count(*) AS asked, count(decided_at) AS decided,
               coalesce(sum(extract(epoch FROM decided_at - occurred_at))
                        FILTER (WHERE decided_at >= occurred_at), 0) AS wait_s
        FROM asked) AS k ON NOT c.skipped
    LEFT JOIN LATERAL (  -- errored calls of an ended run: counted from 0023's partial index
        SELECT count(*) AS call_errors   -- alone (the predicate was decided at insert)
        FROM ledger_events e
        WHERE e.run_id = c.run_id AND e.type = 'tool.call.ended'
          AND ledger_call_errored(e.body)) AS t
        ON n.status IS NOT NULL
    LEFT JOIN LATERAL (  -- the run's newest stored `ledger check` verdicts (none: unchecked)
        SELECT bool_or(v.outcome = 'fail') AS failing,
               bool_or(v.outcome = 'fail' AND v.rule_id LIKE 'approval.%%') AS approval_failing
        FROM ledger_verdicts v
        WHERE v.run_id = c.run_id
          AND (v.policy_hash, v.evaluator_version) = (
              SELECT w.policy_hash, w.evaluator_version FROM ledger_verdicts w
              WHERE w.run_id = c.run_id ORDER BY w.checked_at DESC LIMIT 1)) AS v
        ON NOT c.skipped
), grouped AS (
    SELECT agent, agent_version, prompt_version, model, policy_hash, tool_contract_digest,
           count(*) FILTER (WHERE skipped) AS gate_runs,
           count(*) FILTER (WHERE NOT skipped) AS runs,
           count(*) FILTER (WHERE status IS NOT NULL) AS ended,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'stopped') AS stopped,
           (sum(required) + count(*) FILTER (WHERE approval_failing AND required = 0))::bigint
               AS escalation_needed,
           sum(escalated)::bigint AS escalated,
           count(*) FILTER (WHERE asked > 0) AS handoffs,
           sum(calls)::bigint AS calls, sum(call_errors)::bigint AS call_errors,
           count(*) FILTER (WHERE failing IS NOT NULL) AS checked,
           count(*) FILTER (WHERE failing IS FALSE) AS compliant,
           count(*) FILTER (WHERE status IS NOT NULL AND max_usd IS NOT NULL) AS budgeted,
           count(*) FILTER (WHERE status IS NOT NULL AND spend <= max_usd) AS within_budget,
           coalesce(sum(spend), 0) AS spend_usd,
           sum(asked)::bigint AS asked, sum(decided)::bigint AS decided,
           sum(wait_s)::float8 AS wait_s,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_s) AS latency_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_s) AS latency_p95,
           count(stop_s) AS stops_timed,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY stop_s) AS stop_p95
    FROM facts
    GROUP BY agent, agent_version, prompt_version, model, policy_hash, tool_contract_digest
)
SELECT * FROM grouped
ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST, 5 NULLS LAST, 6 NULLS LAST

-- slo_parallel --
-- Run just before slo_groups, in its transaction (set_config local: undone at its end). Most
-- of slo_groups is parsing JSON bodies (50k run.started at 1M events), which the planner costs
-- as one operator each, so it never finds parallel workers worth their set-up (on 2 cores the
-- parallel run.started scan measured ~1.5x faster at 1M events). With these costs a plan still
-- goes parallel only where a scan is big enough (min_parallel_*_size): a small window is not.
SELECT set_config('parallel_setup_cost', '0', true), set_config('parallel_tuple_cost', '0', true)

-- slo_any_schema --
-- Is any tool argument schema recorded in the log? One probe of migration 0025's partial index
-- (schemas are captured by the hooks of the version that brought it; before it, none were).
-- Without a schema and without a contract declaring one, no call is read.
SELECT to_regclass('ledger_events_tool_args_schema') IS NOT NULL
       AND EXISTS (SELECT 1 FROM ledger_events e
                   WHERE e.type = 'tool.call.started'
                     AND position('"args_schema":'::bytea IN e.body) > 0)

-- slo_tool_calls --
-- The calls whose validity needs a JSON Schema (replay/toolvalid.py), grouped: tool.call.started
-- of runs started in the window (same filters as slo_groups) that carry an args schema digest
-- or a contract digest, or call one of %(tools)s (tools whose effect contract declares a
-- schema), and did not end in error (slo_groups counts those, every one invalid). A verdict
-- depends only on (origin, tool, digests, args), so each distinct one is returned once with
-- its number of calls: Python validates distinct args, not every call. A byte search picks the
-- calls before any body is parsed (canonical JSON: the key is spelled exactly so), each picked
-- body is parsed once (the fence), and an errored end is one probe of 0023's index (the
-- errored calls alone; no other tool.call.ended is read).
WITH runs AS MATERIALIZED (
    SELECT s.run_id, s.origin, convert_from(s.body, 'UTF8')::jsonb AS doc
    FROM ledger_events s
    WHERE s.run_seq = 0 AND s.type = 'run.started'
      AND (%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)
      AND (%(tenant)s::text IS NULL OR s.origin LIKE '%%/' || %(tenant)s)
), counted AS (
    SELECT * FROM runs r
    WHERE (%(agent)s::text IS NULL OR r.doc #>> '{agent,name}' = %(agent)s)
      AND (%(include_gate)s OR r.run_id <> ALL(%(gate_runs)s::uuid[]))
), started AS (
    SELECT c.run_id, c.origin, c.doc, convert_from(e.body, 'UTF8')::jsonb -> 'data' AS d
    FROM ledger_events e JOIN counted c ON c.run_id = e.run_id
    WHERE e.type = 'tool.call.started'
      AND (position('"args_schema_digest":'::bytea IN e.body) > 0
           OR position('"contract_digest":'::bytea IN e.body) > 0
           OR EXISTS (SELECT 1 FROM unnest(%(tools)s::text[]) AS t(name)
                      WHERE position(convert_to('"tool":' || to_json(t.name)::text, 'UTF8')
                                     IN e.body) > 0))
    OFFSET 0  -- a fence: else every `d` below re-parses the body
)
SELECT t.doc #>> '{agent,name}', t.doc #>> '{agent,version}',
       t.doc #>> '{versions,prompt_version}', t.doc #>> '{versions,model}',
       t.doc #>> '{versions,policy_hash}', t.doc #>> '{versions,tool_contract_digest}',
       t.origin, t.d ->> 'tool', ((t.d -> 'args')::text)::jsonb, t.d ->> 'args_schema_digest',
       t.d ->> 'contract_digest', count(*)
FROM started t
WHERE (t.d ->> 'args_schema_digest' IS NOT NULL OR t.d ->> 'contract_digest' IS NOT NULL
       OR t.d ->> 'tool' = ANY(%(tools)s::text[]))
  AND NOT EXISTS (
      SELECT 1 FROM ledger_events x
      WHERE x.run_id = t.run_id AND x.type = 'tool.call.ended' AND ledger_call_errored(x.body)
        AND ledger_decided_call(x.body) = t.d ->> 'tool_call_id')
-- grouped by the args' text: jsonb equality would merge 1 and 1.0, which a schema may not
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, (t.d -> 'args')::text, 10, 11

-- slo_durations --
-- `ledger compare`'s latency test: the duration (run.ended - run.started, seconds) of every
-- ended run started in the window, with its agent and versions (same filters as slo_groups;
-- the caller keeps the runs its baseline / candidate selectors match).
SELECT f.doc #>> '{agent,name}', f.doc #>> '{agent,version}',
       f.doc #>> '{versions,prompt_version}', f.doc #>> '{versions,model}',
       f.doc #>> '{versions,policy_hash}', f.doc #>> '{versions,tool_contract_digest}',
       extract(epoch FROM x.occurred_at - f.occurred_at)::float8
FROM (SELECT s.run_id, s.occurred_at, convert_from(s.body, 'UTF8')::jsonb AS doc
      FROM ledger_events s
      WHERE s.run_seq = 0 AND s.type = 'run.started'
        AND (%(since)s::timestamptz IS NULL OR s.occurred_at >= %(since)s)
        AND (%(until)s::timestamptz IS NULL OR s.occurred_at < %(until)s)
        AND (%(tenant)s::text IS NULL OR s.origin LIKE '%%/' || %(tenant)s)
      OFFSET 0) AS f  -- a fence: else every `f.doc` re-parses the body
CROSS JOIN LATERAL (
    SELECT e.occurred_at FROM ledger_events e
    WHERE e.run_id = f.run_id AND e.type = 'run.ended' ORDER BY e.run_seq DESC LIMIT 1) AS x
WHERE (%(agent)s::text IS NULL OR f.doc #>> '{agent,name}' = %(agent)s)
  AND (%(include_gate)s OR f.run_id <> ALL(%(gate_runs)s::uuid[]))
