-- Circuit breakers (`ledger serve`, replay/policy/breakers.py; ledger/store/breakers.py). Each
-- starts with a "-- name --" header.

-- breaker_heads --
-- Every log and its size: where a breaker starts following (it counts only what is sequenced
-- after it starts) and what the poll fallback compares against.
-- A skip scan of the primary key (origin, tree_size): one index probe per log, however many
-- checkpoints each has, so the poll fallback stays cheap on a large ledger.
WITH RECURSIVE logs AS (
    SELECT min(origin) AS origin FROM ledger_checkpoints
    UNION ALL
    SELECT (SELECT min(c.origin) FROM ledger_checkpoints c WHERE c.origin > logs.origin)
    FROM logs WHERE logs.origin IS NOT NULL
)
SELECT l.origin,
       (SELECT max(c.tree_size) FROM ledger_checkpoints c WHERE c.origin = l.origin)
FROM logs l WHERE l.origin IS NOT NULL

-- breaker_decisions --
-- Pre-call decisions sequenced in one log at or after a position, with the seq of their run's
-- first event (the pack in force is chosen by it, replay.policy.inforce), oldest first.
SELECT d.seq, d.recorded_at, d.body, f.seq
FROM ledger_events d
LEFT JOIN ledger_events f ON f.origin = d.origin AND f.run_id = d.run_id AND f.run_seq = 0
WHERE d.origin = %s AND d.type = 'policy.decided' AND d.seq >= %s
ORDER BY d.seq
LIMIT %s

-- breaker_last_stop --
-- The latest stop of exactly this target in this log: is it in force (not lifted), and from
-- which seq a new window starts (after its lift).
SELECT stop_seq, lifted_seq FROM ledger_stops
WHERE origin = %s AND target = %s
ORDER BY stop_seq DESC
LIMIT 1

-- breaker_listen --
-- The sequencer's NOTIFY after each batch (payload '<origin> <size>'): a wake-up, never data.
LISTEN ledger_appended

-- breaker_lock --
-- One follower per ledger: with several `ledger serve` processes only the holder of this
-- session lock counts and stops (two would record the same stop twice); the others wait.
SELECT pg_try_advisory_lock(hashtext('agent-ledger/breakers'))
