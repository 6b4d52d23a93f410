-- Created before any migration so that applied migrations can be recorded.
CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
