-- Run continuity (issue 17, migration 0019; ledger/store/continuity.py, ledger/hooks/
-- continuity.py). Each starts with a "-- name --" header.

-- continuity_suspend --
-- The sequencer's upkeep: run.suspended stored earlier in this batch; the row is replaced when
-- a run is suspended again after a resume.
INSERT INTO ledger_suspended_runs (run_id, origin, resume_key, suspended_event_id,
                                   suspended_seq, recorded_at)
SELECT e.run_id, e.origin, %(resume_key)s, e.event_id, e.seq, e.recorded_at
FROM ledger_events e WHERE e.event_id = %(event_id)s
ON CONFLICT (run_id) DO UPDATE
SET origin = excluded.origin, resume_key = excluded.resume_key,
    suspended_event_id = excluded.suspended_event_id, suspended_seq = excluded.suspended_seq,
    recorded_at = excluded.recorded_at

-- continuity_unsuspend --
-- Runs resumed or ended in this batch (after their last suspension) are no longer suspended.
DELETE FROM ledger_suspended_runs WHERE run_id = ANY(%(run_ids)s::uuid[])

-- continuity_find_suspended --
-- Through the read API: a writer sees only its tenant's runs.
SELECT ledger_suspended_run(%(origin)s, %(resume_key)s)

-- continuity_resume_point --
SELECT origin, head_seq, head_leaf, head_body, started_body, suspended_body
FROM ledger_run_resume_point(%(run_id)s)

-- continuity_resume_state --
-- `ledger.resume`: the resume point and the run's attempts per tool_call_id (0021), in one
-- round trip (a call run again after the resume is attempt N+1).
SELECT origin, head_seq, head_leaf, head_body, started_body, suspended_body,
       (SELECT pg_catalog.jsonb_object_agg(a.tool_call_id, a.attempts)::text
        FROM ledger_run_attempts(%(run_id)s) AS a)
FROM ledger_run_resume_point(%(run_id)s)

-- continuity_run_exists --
-- `ledger.run(run_id=X)`: is X in the ledger (logged or in intake) for this credential?
SELECT 1 FROM ledger_run_head(%(run_id)s) LIMIT 1

-- continuity_run_approvals --
SELECT approval_id, tool_call_id, tool, args_hash, requested_event_id, decision,
       released_args_hash, started
FROM ledger_run_approvals(%(run_id)s)

-- continuity_idle_suspended --
-- `ledger serve`: suspended runs idle since before %(before)s, oldest first (the serve role
-- reads the table; it is the sequencer's own upkeep).
SELECT run_id, origin, suspended_event_id FROM ledger_suspended_runs
WHERE recorded_at < %(before)s ORDER BY recorded_at LIMIT %(limit)s

-- continuity_seq_holder --
-- Which event holds place %(run_seq)s of run %(run_id)s (logged, else first in intake).
SELECT ledger_run_seq_holder(%(run_id)s, %(run_seq)s)
