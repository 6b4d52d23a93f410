-- Published principal registries (ledger/store/registry.py). Each starts with a "-- name --" header.

-- published_registries --
-- Every registry.published event of one log, in log order, through the (origin, type, seq) index.
SELECT seq, body FROM ledger_events
WHERE origin = %s AND type = 'registry.published'
ORDER BY seq
