-- Retention rules, legal holds and archives (issue 20, ledger/store/holds.py). Each starts with a
-- "-- name --" header.

-- retention_records --
-- Every event of the given types (retention.rule, hold.*, archive.recorded) of the given origins
-- (all when %(origins)s is NULL), oldest first. The origins come from a skip scan of the
-- (origin, type, seq) index, then one index range per origin and type: a handful of operator
-- records among millions of run events, never a full scan.
WITH RECURSIVE found AS (
    (SELECT origin FROM ledger_events ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT e.origin FROM ledger_events e WHERE e.origin > found.origin
            ORDER BY e.origin LIMIT 1)
    FROM found WHERE found.origin IS NOT NULL
)
SELECT r.origin, r.seq, r.event_id, r.recorded_at, r.body
FROM found f
CROSS JOIN LATERAL (
    SELECT e.origin, e.seq, e.event_id, e.recorded_at, e.body FROM ledger_events e
    WHERE e.origin = f.origin AND e.type = ANY(%(types)s::text[])
) r
WHERE f.origin IS NOT NULL
  AND (%(origins)s::text[] IS NULL OR f.origin = ANY(%(origins)s::text[]))
ORDER BY r.origin, r.seq

-- retention_records_of --
-- The same for one origin %(origin)s: one index range per type, no skip scan (what `ledger
-- verify`, `ledger redact` and `ledger archive` ask, once per log).
SELECT origin, seq, event_id, recorded_at, body FROM ledger_events
WHERE origin = %(origin)s AND type = ANY(%(types)s::text[])
ORDER BY seq

-- subject_in_run --
-- Does subject %(subject)s of log %(origin)s have sealed payloads in events of run %(run_id)s
-- (a hold on that run then covers the subject)? Through ledger_payloads_subject, then one
-- event_id probe per payload.
SELECT EXISTS (
    SELECT 1 FROM ledger_payloads p JOIN ledger_events e ON e.event_id = p.event_id
    WHERE p.origin = %(origin)s AND p.subject = %(subject)s AND e.run_id = %(run_id)s
)

-- run_in_range --
-- The first seq of run %(run_id)s inside [%(lo)s, %(hi)s) of log %(origin)s, or NULL.
SELECT min(seq) FROM ledger_events
WHERE run_id = %(run_id)s AND origin = %(origin)s AND seq >= %(lo)s AND seq < %(hi)s

-- subject_in_range --
-- The first seq inside [%(lo)s, %(hi)s) of log %(origin)s of an event carrying sealed payloads
-- of subject %(subject)s, or NULL.
SELECT min(e.seq) FROM ledger_payloads p JOIN ledger_events e ON e.event_id = p.event_id
WHERE p.origin = %(origin)s AND p.subject = %(subject)s
  AND e.origin = %(origin)s AND e.seq >= %(lo)s AND e.seq < %(hi)s

-- range_facts --
-- How many events [%(lo)s, %(hi)s) of log %(origin)s holds, and when the newest of them
-- occurred (an archive takes a range only when all of them occurred before its cut-off).
SELECT count(*), max(occurred_at) FROM ledger_events
WHERE origin = %(origin)s AND seq >= %(lo)s AND seq < %(hi)s

-- retention_due --
-- Events of log %(origin)s whose type is LIKE %(like)s and that occurred before %(cutoff)s:
-- how many, and the seq bounds (what a rule makes due). Through (origin, occurred_at).
SELECT count(*), min(seq), max(seq) FROM ledger_events
WHERE origin = %(origin)s AND occurred_at < %(cutoff)s AND type LIKE %(like)s

-- run_span --
-- The first and last seq of run %(run_id)s in log %(origin)s (NULLs when none): a run hold's
-- held range as `ledger verify` reports it. Through ledger_events_run.
SELECT min(seq), max(seq) FROM ledger_events WHERE run_id = %(run_id)s AND origin = %(origin)s

-- subject_span --
-- The first and last seq of log %(origin)s of events carrying sealed payloads of subject
-- %(subject)s (NULLs when none): a subject hold's held range.
SELECT min(e.seq), max(e.seq) FROM ledger_payloads p JOIN ledger_events e ON e.event_id = p.event_id
WHERE p.origin = %(origin)s AND p.subject = %(subject)s AND e.origin = %(origin)s

-- open_run_in --
-- A run with events in [%(lo)s, %(hi)s) of log %(origin)s that an archive of that range would
-- split: it goes on after the range (an event of a higher run_seq), or it is not over (no
-- run.ended, and not a single-event record of %(singles)s). Its id and first seq in the range,
-- or no row. The range is read once (GROUP BY), then one (run_id, run_seq) probe per run.
SELECT r.run_id, r.first_seq
FROM (
    SELECT run_id, min(seq) AS first_seq, max(run_seq) AS last_run_seq,
           bool_or(type = 'run.ended' OR (run_seq = 0 AND type = ANY(%(singles)s::text[])))
               AS over
    FROM ledger_events
    WHERE origin = %(origin)s AND seq >= %(lo)s AND seq < %(hi)s
    GROUP BY run_id
) r
WHERE NOT r.over
   OR EXISTS (SELECT 1 FROM ledger_events e
              WHERE e.run_id = r.run_id AND e.run_seq > r.last_run_seq)
ORDER BY r.first_seq
LIMIT 1

-- tenant_state --
-- Is %(origin)s a tenant a hold or rule may name: listed in the catalog, or with a log (one
-- probe of the (origin, type, seq) index); and when it was detached (NULL: not detached).
SELECT EXISTS (SELECT 1 FROM ledger_partitions p WHERE p.origin = %(origin)s)
       OR EXISTS (SELECT 1 FROM ledger_events e WHERE e.origin = %(origin)s),
       (SELECT p.detached_at::text FROM ledger_partitions p WHERE p.origin = %(origin)s)

-- detached_records --
-- The retention records of types %(types)s in a detached tenant's events table {events} (its
-- name from the catalog; no longer part of ledger_events), oldest first.
SELECT origin, seq, event_id, recorded_at, body FROM {events}
WHERE type = ANY(%(types)s::text[])
ORDER BY seq
