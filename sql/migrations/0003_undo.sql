-- Undo plans: derived state for approvals and step execution (DESIGN §8).
-- The ledger's undo.* events are the record; these tables are a projection the executor uses
-- for idempotency (one row per compensation idempotency key) and to find approvals quickly.

CREATE TABLE IF NOT EXISTS undo_plans (
    plan_digest  text PRIMARY KEY CHECK (plan_digest ~ '^[0-9a-f]{64}$'),
    plan_id      text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    event_id     uuid
);

CREATE TABLE IF NOT EXISTS undo_approvals (
    plan_digest  text NOT NULL REFERENCES undo_plans (plan_digest),
    approver     text NOT NULL,
    roles        text[] NOT NULL DEFAULT '{}',
    vkey         text NOT NULL,
    signature    bytea NOT NULL,
    approved_at  timestamptz NOT NULL DEFAULT now(),
    event_id     uuid,
    PRIMARY KEY (plan_digest, approver)
);

CREATE TABLE IF NOT EXISTS undo_steps (
    idempotency_key  text PRIMARY KEY,
    plan_digest      text NOT NULL REFERENCES undo_plans (plan_digest),
    step_id          text NOT NULL,
    target_action_id text NOT NULL,
    status           text NOT NULL CHECK (status IN
                        ('running', 'compensated', 'compensation_failed', 'needs_operator', 'contained')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    result           jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS undo_steps_plan ON undo_steps (plan_digest);
