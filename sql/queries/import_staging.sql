-- The importers' on-disk staging (ledger/importers/staging.py): SQLite, not PostgreSQL. An
-- export arrives in any order; records wait here by trace so memory stays flat in its size.

-- import_staging_schema --
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE span (span_id TEXT PRIMARY KEY, trace_id TEXT, start_ns INTEGER, digest TEXT,
                   body BLOB);
CREATE INDEX span_trace ON span (trace_id, start_ns, span_id);
CREATE TABLE trace (trace_id TEXT PRIMARY KEY, body BLOB);

-- import_staged_digest --
SELECT digest FROM span WHERE span_id = ?

-- import_stage_span --
INSERT INTO span VALUES (?, ?, ?, ?, ?)

-- import_stage_trace --
-- the last record for a trace id wins
INSERT OR REPLACE INTO trace VALUES (?, ?)

-- import_staged_traces --
SELECT trace_id FROM span UNION SELECT trace_id FROM trace ORDER BY 1

-- import_staged_trace --
SELECT body FROM trace WHERE trace_id = ?

-- import_staged_spans --
SELECT body FROM span WHERE trace_id = ? ORDER BY start_ns, span_id
