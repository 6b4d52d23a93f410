-- Intake backlog and rejects reported to writers (issue 15 item 3, slice "backlog").
--
-- A writer must learn when the sequencer rejected an event it submitted (never silent), but a
-- writer may not read `ledger_rejects` (other writers' bodies are there). This function returns
-- only the reason for the event ids the caller names: an event id (UUIDv7, 74 random bits) is
-- known to the writer that made it. SECURITY DEFINER with a fixed search_path; no body leaves.
CREATE OR REPLACE FUNCTION ledger_reject_reasons(ids uuid[])
RETURNS TABLE (event_id uuid, reason text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT DISTINCT ON (r.event_id) r.event_id, r.reason
    FROM ledger_rejects r
    WHERE r.event_id = ANY (ids)
    ORDER BY r.event_id, r.rejected_at DESC
$$;
REVOKE ALL ON FUNCTION ledger_reject_reasons(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_reject_reasons(uuid[]) TO ledger_writer, ledger_reader;
