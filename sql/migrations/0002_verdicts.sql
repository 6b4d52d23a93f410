-- Derived policy verdicts (DESIGN §7). Re-computable from the hashed log at any time and never
-- part of it: rows are keyed by the evaluator version so a semantic change in the evaluator
-- sits next to, not on top of, older results.
CREATE TABLE IF NOT EXISTS ledger_verdicts (
    run_id            uuid        NOT NULL,
    policy_hash       text        NOT NULL CHECK (policy_hash ~ '^[0-9a-f]{64}$'),
    evaluator_version text        NOT NULL,
    rule_id           text        NOT NULL,
    outcome           text        NOT NULL CHECK (outcome IN ('pass', 'fail', 'unknown')),
    explanation       text        NOT NULL,
    evidence          uuid[]      NOT NULL DEFAULT '{}',
    through_seq       bigint,
    checked_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, policy_hash, evaluator_version, rule_id)
);

CREATE INDEX IF NOT EXISTS ledger_verdicts_failing
    ON ledger_verdicts (policy_hash, outcome) WHERE outcome <> 'pass';
