-- The write door refuses events over ledger.store.append.MAX_EVENT_BYTES (1 MiB), but a writer
-- inserting into ledger_intake directly is held only by the database: without this bound, a few
-- huge bodies in one batch would exhaust the sequencer's memory and, re-read after its restart,
-- stop the log for every tenant (issue 15 item 1). NOT VALID: rows already waiting stay (the
-- sequencer judges them as before); every new row is checked.
ALTER TABLE ledger_intake DROP CONSTRAINT IF EXISTS intake_body_size;
ALTER TABLE ledger_intake
    ADD CONSTRAINT intake_body_size CHECK (octet_length(body) <= 1048576) NOT VALID;
