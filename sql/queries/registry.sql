-- Published principal registries (ledger/store/registry.py). Each starts with a "-- name --" header.

-- published_registries --
-- Every registry.published event of one log, in log order, through the (origin, type, seq) index.
-- Through the tenant-scoped read API (migration 0010): the agent's process checks approvers.
SELECT seq, body FROM ledger_registries(%s)
