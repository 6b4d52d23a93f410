-- log_has_checkpoints --
-- Whether any log already has a signed checkpoint (then a missing log key is never re-created).
SELECT EXISTS (SELECT 1 FROM ledger_checkpoints)
