-- Bookkeeping of applied migrations (the DDL itself is in sql/bootstrap.sql and migrations/).

-- migration_lock --
SELECT pg_advisory_xact_lock(%s)

-- applied_migrations --
SELECT version FROM ledger_schema_migrations

-- record_migration --
INSERT INTO ledger_schema_migrations (version, name, checksum) VALUES (%s, %s, %s)

-- migrations_table_exists --
SELECT to_regclass('ledger_schema_migrations') IS NOT NULL

-- schema_version --
SELECT coalesce(max(version), 0) FROM ledger_schema_migrations

-- set_statement_timeout --
-- A hooks connection (ledger.db.connect, bounded) lifts its statement timeout ('0') while it
-- migrates, and puts it back after: a migration may legitimately run long.
SELECT set_config('statement_timeout', %s, false)
