-- The approval a hook finds for a held call carries what its signature covers (issue 16).
--
-- Why: the hooks put the approver's roles and `signed` in a decision's basis, and a signed
-- `approval.decided` records no roles (the registry in force says who holds which). So the hook
-- verifies the signature itself (ledger/hooks/approval_authority.py) over the claim rebuilt from
-- the call, and reads the roles from the registry in force: it needs the signature, the signing
-- key, the expiry and the registry the approver acted under. A writer reads them only through
-- this read API (same hardening as 0010); the row shape changes, so the function is replaced.

DROP FUNCTION IF EXISTS ledger_call_approvals(text, uuid, text, text);

CREATE FUNCTION ledger_call_approvals(
    p_origin text, p_run uuid, p_tool text, p_args_hash text)
    RETURNS TABLE (approval_id text, tool_call_id text, requested_event_id uuid,
                   decided_event_id uuid, decision text, approver text, roles jsonb,
                   signed boolean, decided_args_hash text, edited_args_hash text,
                   signature text, signing_key text, expires_at text, registry_hash text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH req AS (
        SELECT x.event_id, x.run_seq, x.j -> 'data' AS d
        FROM (SELECT y.event_id, y.run_seq,
                     pg_catalog.convert_from(y.body, 'UTF8')::pg_catalog.jsonb AS j FROM (SELECT e.event_id, e.run_seq, e.body FROM public.ledger_events e
              WHERE e.origin = p_origin AND e.run_id = p_run AND e.type = 'approval.requested'
              UNION ALL
              SELECT i.event_id, i.run_seq, i.body FROM public.ledger_intake i
              WHERE i.origin = p_origin AND i.run_id = p_run) AS y) AS x
        WHERE public.ledger_api_visible(p_origin, NULL) AND x.j ->> 'type' = 'approval.requested'
    )
    SELECT q.d ->> 'approval_id', q.d ->> 'tool_call_id', q.event_id, dec.event_id,
           dec.d ->> 'decision', dec.d -> 'approver' ->> 'id', dec.d -> 'approver' -> 'roles',
           (dec.d ->> 'signature') IS NOT NULL, dec.d ->> 'args_hash',
           dec.d ->> 'edited_args_hash', dec.d ->> 'signature', dec.d ->> 'signing_key',
           dec.d ->> 'expires_at', dec.d ->> 'registry_hash'
    FROM req q
    LEFT JOIN LATERAL (  -- the newest: one still in intake, else the latest logged
        SELECT y.event_id, y.d FROM (
            SELECT e.event_id, 1 AS src, e.seq AS pos,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb -> 'data' AS d
            FROM public.ledger_events e
            WHERE e.origin = p_origin AND e.type = 'approval.decided'
              AND public.ledger_decided_call(e.body) = q.d ->> 'tool_call_id'
            UNION ALL
            SELECT i.event_id, 2, i.intake_id, j.j -> 'data'
            FROM public.ledger_intake i
            CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(i.body, 'UTF8')::pg_catalog.jsonb
                                AS j) AS j
            WHERE i.origin = p_origin AND j.j ->> 'type' = 'approval.decided'
              AND j.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id'
        ) AS y
        WHERE y.d ->> 'approval_id' = q.d ->> 'approval_id'
        ORDER BY y.src DESC, y.pos DESC LIMIT 1
    ) AS dec ON true
    WHERE q.d ->> 'tool' = p_tool AND q.d ->> 'args_hash' = p_args_hash
      AND q.d ? 'approval_id'
    ORDER BY q.run_seq DESC
$$;

REVOKE ALL ON FUNCTION ledger_call_approvals(text, uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_call_approvals(text, uuid, text, text)
    TO ledger_writer, ledger_sequencer, ledger_reader, ledger_operator;
