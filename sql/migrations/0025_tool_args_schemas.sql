-- Recorded tool argument schemas are found by an index probe (issue 19: the tool-call validity
-- SLI over a 1M-event log). A tool.call.started carries `args_schema` only on the first call of
-- a schema digest in a run (docs/hooks.md "Tool schemas"); without this partial index,
-- `tool_args_schemas` (sql/queries/toolschema.sql) reads the body of every tool call of the
-- origin. One row per (run, schema): a few per run.
CREATE INDEX IF NOT EXISTS ledger_events_tool_args_schema ON ledger_events (origin, seq)
    WHERE type = 'tool.call.started' AND position('"args_schema":'::bytea IN body) > 0;
