-- Named queries of pre-call enforcement (issue 16, slice "enforce", migration 0017).

-- submit_events_totals --
-- submit_events for a batch carrying running-total deltas (events of enforced runs; NULL deltas
-- for the others): the same insert, then ledger_run_totals_add over the rows actually inserted,
-- and the totals of every tracked run come back in the same row (one round trip).
WITH batch AS (
    SELECT * FROM unnest(%b::uuid[], %b::text[], %b::uuid[], %b::bigint[], %b::bytea[],
                         %s::numeric[], %s::bigint[], %s::bigint[])
                  WITH ORDINALITY AS e(event_id, origin, run_id, run_seq, body, dc, dt, du, ord)
), logged AS (SELECT ledger_logged_ids(array_agg(event_id)) AS ids FROM batch),
ins AS (
    INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body)
    SELECT e.event_id, e.origin, e.run_id, e.run_seq, e.body FROM batch e
    WHERE e.event_id <> ALL ((SELECT ids FROM logged)::uuid[])
    ORDER BY e.ord
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), tracked AS (  -- a row not inserted now (a retry) adds nothing but still gets the totals
    SELECT b.event_id, b.origin, b.run_id, b.ord,
           CASE WHEN i.event_id IS NULL THEN 0 ELSE b.dc END AS dc,
           CASE WHEN i.event_id IS NULL THEN 0 ELSE b.dt END AS dt,
           CASE WHEN i.event_id IS NULL THEN 0 ELSE b.du END AS du
    FROM batch b LEFT JOIN ins i ON i.event_id = b.event_id WHERE b.dc IS NOT NULL
), tot AS MATERIALIZED (
    SELECT t.* FROM ledger_run_totals_add(
        (SELECT array_agg(event_id ORDER BY ord) FROM tracked),
        (SELECT array_agg(origin ORDER BY ord) FROM tracked),
        (SELECT array_agg(run_id ORDER BY ord) FROM tracked),
        (SELECT array_agg(dc ORDER BY ord) FROM tracked),
        (SELECT array_agg(dt ORDER BY ord) FROM tracked),
        (SELECT array_agg(du ORDER BY ord) FROM tracked)) t
)
SELECT coalesce((SELECT array_agg(event_id) FROM ins), '{}'::uuid[]) AS inserted,
       ledger_live_version() AS live_version,
       (SELECT array_agg(run_id) FROM tot), (SELECT array_agg(cost_usd::text) FROM tot),
       (SELECT array_agg(total_tokens) FROM tot), (SELECT array_agg(unknown_cost_calls) FROM tot)

-- hooks_run_totals --
SELECT cost_usd::text, total_tokens, unknown_cost_calls FROM ledger_run_totals_of(%s::uuid)

-- hooks_call_approvals --
SELECT approval_id, tool_call_id, requested_event_id, decided_event_id, decision, approver,
       roles, signed, decided_args_hash, edited_args_hash, signature, signing_key, expires_at,
       registry_hash
FROM ledger_call_approvals(%s::text, %s::uuid, %s::text, %s::text)

-- hooks_policies_since --
SELECT version, origin, seq, event_id, policy_hash, document
FROM ledger_policies_since(%s::text[], %s::bigint)
