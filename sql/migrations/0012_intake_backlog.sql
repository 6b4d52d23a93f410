-- Intake backlog and rejects reported to writers (issue 15 item 3).
--
-- A writer must learn when the sequencer rejected an event it submitted (never silent), but a
-- writer may not read `ledger_rejects` (other writers' bodies are there). This function returns
-- only the reason for the event ids the caller names, and only for rejects the caller could
-- see through the read API (0010's ledger_api_visible: a writer its tenant, and only its
-- agent's events when bound to one; a reader its mapped tenants): an id of another tenant is
-- simply absent, as if unknown. Reject rows carry no submitting role, so the scope is the
-- origin (and agent), not the credential. SECURITY DEFINER with a fixed search_path (pg_temp
-- last, every table schema-qualified); no body leaves.
CREATE OR REPLACE FUNCTION ledger_reject_reasons(ids uuid[])
RETURNS TABLE (event_id uuid, reason text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT DISTINCT ON (r.event_id) r.event_id, r.reason
    FROM public.ledger_rejects r
    WHERE r.event_id = ANY (ids) AND public.ledger_api_visible(r.origin, r.body)
    ORDER BY r.event_id, r.rejected_at DESC
$$;
REVOKE ALL ON FUNCTION ledger_reject_reasons(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_reject_reasons(uuid[]) TO ledger_writer, ledger_reader;
