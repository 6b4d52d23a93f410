-- Live control reads of the hooks' stop cache (ledger/hooks/live.py).

-- hooks_stop_cache_refresh --
-- The live version is read first (a materialised CTE) and the changed stops after it, so the
-- cache never records a version whose changes it has not read; a row newer than the version is
-- harmless (rows are applied by their own version). At least one row: the version alone.
WITH v AS MATERIALIZED (SELECT ledger_live_version() AS version)
SELECT v.version, s.version, s.origin, s.target, s.target_run_id, s.stop_event_id,
       s.requested_by, s.reason, s.authority, s.recorded_at, s.lifted
FROM v LEFT JOIN LATERAL ledger_stops_since(%s::text[], %s::bigint) s ON true
