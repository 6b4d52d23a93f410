-- Live metrics (`ledger serve --metrics-addr`, exporters/metrics; ledger_metric_rows is
-- migration 0024). Each starts with a "-- name --" header.

-- metrics_heads --
-- Every log and its size, in the seed's snapshot: the seed counts seq < size, the follower
-- everything from size on (a skip scan of ledger_checkpoints' primary key, as breaker_heads).
WITH RECURSIVE logs AS (
    SELECT min(origin) AS origin FROM ledger_checkpoints
    UNION ALL
    SELECT (SELECT min(c.origin) FROM ledger_checkpoints c WHERE c.origin > logs.origin)
    FROM logs WHERE logs.origin IS NOT NULL
)
SELECT l.origin,
       (SELECT max(c.tree_size) FROM ledger_checkpoints c WHERE c.origin = l.origin)
FROM logs l WHERE l.origin IS NOT NULL

-- metrics_seed --
-- The counters of one log below a position, grouped as the metrics label them; approval waits
-- grouped by histogram bucket (the index of the first bound >= the wait; len(bounds) = +Inf).
SELECT kind, a, b, c, count(*), sum(amount), sum(tokens_in), sum(tokens_out),
       CASE WHEN kind = 'approval_wait' AND wait IS NOT NULL
            THEN (SELECT count(*) FROM unnest(%(bounds)s::float8[]) ub WHERE ub < wait) END,
       sum(wait)
FROM ledger_metric_rows(%(origin)s, 0, %(to)s)
GROUP BY 1, 2, 3, 4, 9
ORDER BY 5 DESC

-- metrics_rows_between --
-- The metric rows of one log in [from, to), oldest first (the follower's bounded window).
SELECT seq, kind, a, b, c, amount, tokens_in, tokens_out, wait
FROM ledger_metric_rows(%s, %s, %s)
ORDER BY seq

-- metrics_gauges --
-- The cheap gauges of a scrape: seconds since the newest checkpoint of any log (database clock)
-- and the time of the newest witness cosignature (a witness verified the log's consistency: the
-- only verification the database records). Per log one probe of each primary key
-- (origin, tree_size), never a scan of the checkpoints.
WITH RECURSIVE logs AS (
    SELECT min(origin) AS origin FROM ledger_checkpoints
    UNION ALL
    SELECT (SELECT min(c.origin) FROM ledger_checkpoints c WHERE c.origin > logs.origin)
    FROM logs WHERE logs.origin IS NOT NULL
)
SELECT extract(epoch FROM clock_timestamp() - max(
           (SELECT c.created_at FROM ledger_checkpoints c WHERE c.origin = l.origin
            ORDER BY c.tree_size DESC LIMIT 1)))::float8,
       extract(epoch FROM max(
           (SELECT w.created_at FROM ledger_cosigned w WHERE w.origin = l.origin
            ORDER BY w.tree_size DESC LIMIT 1)))::float8
FROM logs l WHERE l.origin IS NOT NULL

-- metrics_stops --
-- Stops by scope kind (run, agent, tenant, tool): recorded, and still in force. A small table.
SELECT split_part(target, ':', 1), count(*), count(*) FILTER (WHERE lifted_event_id IS NULL)
FROM ledger_stops GROUP BY 1

-- metrics_verdicts --
-- Stored rule verdicts (`ledger check`) by rule and outcome; refreshed in the background.
SELECT rule_id, outcome, count(*) FROM ledger_verdicts GROUP BY 1, 2 ORDER BY 3 DESC
