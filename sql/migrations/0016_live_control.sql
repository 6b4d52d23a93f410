-- Live control (issue 16): the stop state and the policy publications the agent hooks follow,
-- as tables the sequencer maintains from the log, and a read API scoped like 0010's.
--
-- * ledger_live_changes: one row per accepted run.stop.requested ('stop'), run.stop.lifted
--   ('lift') or policy.published ('policy') event, numbered by `version`. The sequencer
--   (ledger/store/stops.py) writes them inside the batch transaction that stores the events, so
--   the live state is a function of the log, then sends pg_notify('ledger_live', <max version>):
--   the payload is only that opaque number (every listener of every tenant sees it); what
--   changed is read through the functions below, which confine a writer to its tenant.
-- * ledger_stops: one row per stop event, updated when a lift names it (lifted_*, and its
--   version moves to the lift's version, so a cache reading "changed since v" sees the lift).
-- * Nobody but the owner and the sequencer role writes them; writers, readers and operators
--   read them only through ledger_live_version / ledger_stops_since / ledger_policies_since.
-- * A stop recorded before issue 16 has no `data.target`: it meant "stop the run that
--   correlation.caused_by points into". Its target is `run:<that run id>` when that event is in
--   the same log, else `run:?` with target_run_id NULL (a target no run matches).

CREATE TABLE IF NOT EXISTS ledger_live_changes (
    version  bigserial PRIMARY KEY,
    origin   text   NOT NULL,
    kind     text   NOT NULL CHECK (kind IN ('stop', 'lift', 'policy')),
    event_id uuid   NOT NULL UNIQUE,
    seq      bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_live_changes_policy
    ON ledger_live_changes (version) WHERE kind = 'policy';

CREATE TABLE IF NOT EXISTS ledger_stops (
    stop_event_id   uuid PRIMARY KEY,
    origin          text        NOT NULL,
    target          text        NOT NULL,
    target_run_id   uuid,
    requested_by    text        NOT NULL,
    reason          text        NOT NULL DEFAULT '',
    authority       text,
    recorded_at     timestamptz NOT NULL,
    stop_seq        bigint      NOT NULL,
    lifted_event_id uuid,
    lifted_by       text,
    lifted_seq      bigint,
    version         bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_stops_version ON ledger_stops (version);
CREATE INDEX IF NOT EXISTS ledger_stops_active
    ON ledger_stops (origin, target) WHERE lifted_event_id IS NULL;

REVOKE ALL ON ledger_live_changes, ledger_stops FROM PUBLIC;
REVOKE ALL ON ledger_live_changes, ledger_stops
    FROM ledger_writer, ledger_reader, ledger_operator;
GRANT SELECT, INSERT, UPDATE ON ledger_live_changes, ledger_stops TO ledger_sequencer;
GRANT USAGE ON SEQUENCE ledger_live_changes_version_seq TO ledger_sequencer;

-- The stops and policy publications already in the log, in the order they were recorded.
INSERT INTO ledger_live_changes (origin, kind, event_id, seq)
SELECT e.origin, CASE e.type WHEN 'policy.published' THEN 'policy' ELSE 'stop' END,
       e.event_id, e.seq
FROM ledger_events e
WHERE e.type IN ('policy.published', 'run.stop.requested')
  AND NOT EXISTS (SELECT 1 FROM ledger_live_changes c WHERE c.event_id = e.event_id)
ORDER BY e.recorded_at, e.origin, e.seq;

INSERT INTO ledger_stops (stop_event_id, origin, target, target_run_id, requested_by, reason,
                          authority, recorded_at, stop_seq, version)
SELECT e.event_id, e.origin,
       coalesce(j.d ->> 'target', 'run:' || coalesce(r.run_id::text, '?')),
       coalesce(CASE WHEN j.d ->> 'target_run_id' ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                     THEN (j.d ->> 'target_run_id')::uuid END, r.run_id),
       coalesce(j.d ->> 'requested_by', ''), coalesce(j.d ->> 'reason', ''),
       coalesce(j.d ->> 'authority', 'asserted'), e.recorded_at, e.seq, c.version
FROM ledger_live_changes c
JOIN ledger_events e ON e.event_id = c.event_id
CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS b) AS x
CROSS JOIN LATERAL (SELECT x.b -> 'data' AS d,
                           x.b -> 'correlation' ->> 'caused_by' AS caused_by) AS j
LEFT JOIN ledger_events r
       ON r.event_id = CASE WHEN j.caused_by ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                            THEN j.caused_by::uuid END  -- strict shape, cast only inside CASE
      AND r.origin = e.origin
WHERE c.kind = 'stop'
ON CONFLICT (stop_event_id) DO NOTHING;

-- The live version: the newest change of any log (0 when none). Not scoped: it is the same
-- opaque number NOTIFY carries to every listener.
CREATE OR REPLACE FUNCTION ledger_live_version() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(max(c.version), 0) FROM public.ledger_live_changes c
$$;

-- Stops changed after p_since in the given logs (NULL: every log the caller may see). With
-- p_since 0 (a cache starting empty) only the stops still active; after that, lifted ones too,
-- so the caller drops them. A writer sees only the logs of its binding.
CREATE OR REPLACE FUNCTION ledger_stops_since(p_origins text[], p_since bigint)
    RETURNS TABLE (version bigint, origin text, target text, target_run_id uuid,
                   stop_event_id uuid, requested_by text, reason text, authority text,
                   recorded_at timestamptz, lifted boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT s.version, s.origin, s.target, s.target_run_id, s.stop_event_id, s.requested_by,
           s.reason, s.authority, s.recorded_at, s.lifted_event_id IS NOT NULL
    FROM public.ledger_stops s
    WHERE s.version > p_since
      AND (p_since > 0 OR s.lifted_event_id IS NULL)
      AND (p_origins IS NULL OR s.origin = ANY(p_origins))
      AND public.ledger_api_visible(s.origin, NULL)
    ORDER BY s.version
$$;

-- Policy packs published after p_since in the given logs (NULL: every visible log), in order.
CREATE OR REPLACE FUNCTION ledger_policies_since(p_origins text[], p_since bigint)
    RETURNS TABLE (version bigint, origin text, seq bigint, event_id uuid, policy_hash text,
                   document jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT c.version, c.origin, c.seq, c.event_id, j.d ->> 'policy_hash', j.d -> 'document'
    FROM public.ledger_live_changes c
    JOIN public.ledger_events e ON e.event_id = c.event_id
    CROSS JOIN LATERAL (SELECT pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb
                               -> 'data' AS d) AS j
    WHERE c.kind = 'policy' AND c.version > p_since
      AND (p_origins IS NULL OR c.origin = ANY(p_origins))
      AND public.ledger_api_visible(c.origin, NULL)
    ORDER BY c.version
$$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['ledger_live_version()', 'ledger_stops_since(text[], bigint)',
                             'ledger_policies_since(text[], bigint)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ledger_writer, ledger_sequencer, '
                       'ledger_reader, ledger_operator', f);
    END LOOP;
END
$$;
