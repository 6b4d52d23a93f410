-- Live control (issue 16, migration 0016; ledger/store/stops.py). Each starts with a
-- "-- name --" header.

-- live_record_stop --
-- The sequencer's upkeep for one accepted run.stop.requested (stored earlier in the batch):
-- a 'stop' change and its ledger_stops row. A stop without data.target (recorded before issue
-- 16) stops the run its correlation.caused_by event belongs to, in the same log, else `run:?`.
WITH change AS (
    INSERT INTO ledger_live_changes (origin, kind, event_id, seq)
    SELECT e.origin, 'stop', e.event_id, e.seq FROM ledger_events e
    WHERE e.event_id = %(event_id)s
    RETURNING version, origin, event_id, seq
)
INSERT INTO ledger_stops (stop_event_id, origin, target, target_run_id, requested_by, reason,
                          authority, recorded_at, stop_seq, version)
SELECT c.event_id, c.origin,
       coalesce(%(target)s::text, 'run:' || coalesce(r.run_id::text, '?')),
       coalesce(%(target_run_id)s::uuid, r.run_id),
       %(requested_by)s, %(reason)s, %(authority)s, e.recorded_at, c.seq, c.version
FROM change c
JOIN ledger_events e ON e.event_id = c.event_id
LEFT JOIN ledger_events r ON r.event_id = %(caused_by)s::uuid AND r.origin = c.origin

-- live_record_lift --
-- One accepted run.stop.lifted: a 'lift' change, and the stops it names (in its own log, not
-- lifted yet) marked lifted at that change's version.
WITH change AS (
    INSERT INTO ledger_live_changes (origin, kind, event_id, seq)
    SELECT e.origin, 'lift', e.event_id, e.seq FROM ledger_events e
    WHERE e.event_id = %(event_id)s
    RETURNING version, origin, event_id, seq
)
UPDATE ledger_stops s
SET lifted_event_id = c.event_id, lifted_by = %(lifted_by)s, lifted_seq = c.seq,
    version = c.version
FROM change c
WHERE s.stop_event_id = ANY(%(lifts)s::uuid[]) AND s.origin = c.origin
  AND s.lifted_event_id IS NULL

-- live_record_policies --
INSERT INTO ledger_live_changes (origin, kind, event_id, seq)
SELECT e.origin, 'policy', e.event_id, e.seq FROM ledger_events e
WHERE e.event_id = ANY(%s::uuid[])
ORDER BY e.seq

-- live_notify --
-- One notification per batch that changed anything: the payload is only the opaque version.
SELECT pg_notify('ledger_live', (SELECT max(version) FROM ledger_live_changes)::text)

-- live_version --
SELECT ledger_live_version()

-- live_stops_since --
SELECT version, origin, target, target_run_id, stop_event_id, requested_by, reason, authority,
       recorded_at, lifted
FROM ledger_stops_since(%s::text[], %s::bigint)

-- live_stops_since_versioned --
-- The changed stops and the version they bring the caller to, in one snapshot.
SELECT s.version, s.origin, s.target, s.target_run_id, s.stop_event_id, s.requested_by,
       s.reason, s.authority, s.recorded_at, s.lifted, v.now
FROM (SELECT ledger_live_version() AS now) AS v
LEFT JOIN LATERAL ledger_stops_since(%s::text[], %s::bigint) AS s ON true

-- stop_run_head --
-- The last logged event of a run a stop is aimed at (ledger/stops.py): its type, when it was
-- recorded (run.ended: when the run ended) and its body (the tenant).
SELECT type, recorded_at, body FROM ledger_events WHERE run_id = %s ORDER BY run_seq DESC LIMIT 1

-- stop_recorder --
-- May this connection's login record a stop or a lift (what the sequencer's control-plane
-- screen will judge, ledger/store/controlplane.py)? A superuser, a member of the owner of
-- ledger_events, or a member of ledger_operator.
SELECT session_user, a.rolsuper
       OR pg_has_role(a.oid, (SELECT relowner FROM pg_class
                              WHERE oid = 'ledger_events'::regclass), 'MEMBER')
       OR (o.oid IS NOT NULL AND pg_has_role(a.oid, o.oid, 'MEMBER'))
FROM pg_roles a LEFT JOIN pg_roles o ON o.rolname = 'ledger_operator'
WHERE a.rolname = session_user
