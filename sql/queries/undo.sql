-- Undo plans, approvals and step states (ledger/store/undo.py), the projection the executor
-- uses next to the undo.* events. Each starts with a "-- name --" header.

-- insert_undo_plan --
INSERT INTO undo_plans (plan_digest, plan_id, body, event_id) VALUES (%s, %s, %s, %s)
ON CONFLICT (plan_digest) DO NOTHING

-- undo_plan_exists --
SELECT event_id FROM undo_plans WHERE plan_digest = %s

-- upsert_undo_step --
INSERT INTO undo_steps (idempotency_key, plan_digest, step_id, target_action_id, status, attempts,
                        last_error, result, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (idempotency_key) DO UPDATE SET
    plan_digest = EXCLUDED.plan_digest, step_id = EXCLUDED.step_id, status = EXCLUDED.status,
    attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, result = EXCLUDED.result,
    updated_at = now()

-- undo_step_states --
SELECT idempotency_key, status, attempts, last_error FROM undo_steps
WHERE idempotency_key = ANY(%s)

-- insert_undo_approval --
INSERT INTO undo_approvals (plan_digest, approver, roles, vkey, signature, event_id)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (plan_digest, approver) DO NOTHING

-- undo_approvals --
SELECT approver, roles, vkey, signature FROM undo_approvals WHERE plan_digest = %s ORDER BY approver

-- lock_undo_plan --
SELECT pg_advisory_lock(hashtextextended(%s, 7))

-- unlock_undo_plan --
SELECT pg_advisory_unlock(hashtextextended(%s, 7))
