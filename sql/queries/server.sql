-- Statements about the PostgreSQL server itself, not the ledger's tables.

-- other_client_sessions --
-- The embedded server's idle watchdog: client sessions other than the asking one.
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
