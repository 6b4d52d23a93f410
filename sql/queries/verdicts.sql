-- Derived policy verdicts (ledger/store/verdicts.py). Each starts with a "-- name --" header.

-- delete_verdicts --
DELETE FROM ledger_verdicts v USING unnest(%s::uuid[], %s::text[]) AS k(run_id, policy)
WHERE v.run_id = k.run_id AND v.policy_hash = k.policy AND v.evaluator_version = %s

-- copy_verdicts --
COPY ledger_verdicts (run_id, policy_hash, evaluator_version, rule_id, outcome, explanation,
                      evidence, through_seq) FROM STDIN
