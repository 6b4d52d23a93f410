-- A run's end is found by an index probe (issue 18: the board's first paint on a 1M-event log).
-- `ledger runs`, the board and the TUI read each listed run's run.ended (its status); without
-- this partial index, a run that has not ended (or the search for its end) reads every event
-- of the run. One row per ended run.
CREATE INDEX IF NOT EXISTS ledger_events_run_ended ON ledger_events (run_id, run_seq)
    WHERE type = 'run.ended';
