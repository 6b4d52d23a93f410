-- Published policy packs (ledger/store/policies.py). Each starts with a "-- name --" header.

-- published_policies --
SELECT seq, body FROM ledger_events WHERE type = 'policy.published' ORDER BY seq

-- published_policy --
-- The first publication of a pack, found through the expression index of migration 0007.
SELECT seq, body FROM ledger_events
WHERE type = 'policy.published' AND ledger_published_policy(body) = %s
ORDER BY seq LIMIT 1

-- published_policies_in --
-- The packs published in one log, in log order: the pack in force for a run of that log is
-- the last one published before the run's first event (replay.policy.inforce).
SELECT seq, body FROM ledger_events
WHERE type = 'policy.published' AND origin = %s ORDER BY seq
