-- Reads of `ledger verify --jobs N` (ledger/verify_parallel.py): one snapshot shared by the
-- parent and its workers, and the plan of each origin's seq chunks.

-- export_snapshot --
-- Called inside the parent's REPEATABLE READ transaction; valid while that transaction is open.
SELECT pg_export_snapshot()

-- verify_log_end --
-- One past the highest stored seq of an origin (0 when empty): where the chunk plan ends. Gaps
-- below it are for the workers to find (a chunk short of rows is a doubt, not a verdict).
SELECT coalesce(max(seq) + 1, 0) FROM ledger_events WHERE origin = %s
