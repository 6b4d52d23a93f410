-- Runs are listed by their first event (run_seq 0), not by type = 'run.started' (issue 15: a run
-- without run.started, or with a back-dated one, must not vanish from `ledger check` and
-- `ledger runs`). This partial index holds one row per run, so listing reads the runs, not
-- every event of the log.
CREATE INDEX IF NOT EXISTS ledger_events_run_first ON ledger_events (occurred_at, seq)
    WHERE run_seq = 0;
