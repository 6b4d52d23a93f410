-- The schema sql/migrations produce (generated: python -m ledger.db.schema --write).
-- Do not edit: change a migration, then regenerate. tests/pg/test_schema.py checks it.

CREATE FUNCTION public.ledger_api_visible(o text, body bytea) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)
          OR pg_catalog.pg_has_role(session_user,
                                    (SELECT c.relowner FROM pg_catalog.pg_class c
                                     WHERE c.oid = 'public.ledger_events'::pg_catalog.regclass),
                                    'MEMBER')
          OR pg_catalog.pg_has_role(session_user, 'ledger_sequencer', 'MEMBER')
          OR pg_catalog.pg_has_role(session_user, 'ledger_operator', 'MEMBER') THEN true
        WHEN pg_catalog.pg_has_role(session_user, 'ledger_writer', 'MEMBER')
            THEN public.ledger_writer_may_write(o, body)
        ELSE public.ledger_visible_origin(o, session_user)
    END
$$;

CREATE FUNCTION public.ledger_body_agent(body bytea) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
BEGIN
    RETURN pg_catalog.convert_from(body, 'UTF8')::pg_catalog.jsonb -> 'agent' ->> 'name';
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION public.ledger_body_json(p_body bytea) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN pg_catalog.convert_from(p_body, 'UTF8')::pg_catalog.jsonb;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) RETURNS TABLE(approval_id text, tool_call_id text, requested_event_id uuid, decided_event_id uuid, decision text, approver text, roles jsonb, signed boolean, decided_args_hash text, edited_args_hash text, signature text, signing_key text, expires_at text, registry_hash text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

CREATE FUNCTION public.ledger_call_errored(body bytea) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT position('"status":"error"'::bytea IN body) > 0
                 AND convert_from(body, 'UTF8')::jsonb #>> '{data,status}' = 'error' $$;

CREATE FUNCTION public.ledger_create_ranges(parent text, size bigint, upto bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
DECLARE
    lo bigint := ledger_range_hi(parent);
    want bigint := (greatest(upto, 0) / size + 2) * size;
    rest text := parent || '_rest';
    part text;
    stray boolean;
BEGIN
    WHILE lo < want LOOP
        part := parent || '_r' || (lo / size);
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE seq >= $1 AND seq < $2)', rest)
            INTO stray USING lo, lo + size;
        IF stray THEN
            EXECUTE format('CREATE TABLE public.%I (LIKE ledger_events INCLUDING DEFAULTS '
                           'INCLUDING CONSTRAINTS)', part);
            EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE seq >= $1 AND seq < $2',
                           part, rest) USING lo, lo + size;
            EXECUTE format('ALTER TABLE %I DISABLE TRIGGER ledger_events_append_only', rest);
            EXECUTE format('DELETE FROM %I WHERE seq >= $1 AND seq < $2', rest) USING lo, lo + size;
            EXECUTE format('ALTER TABLE %I ENABLE TRIGGER ledger_events_append_only', rest);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                           parent, part, lo, lo + size);
        ELSE
            EXECUTE format('CREATE TABLE public.%I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                           part, parent, lo, lo + size);
        END IF;
        PERFORM ledger_partition_guard(part, 'ledger_events');
        lo := lo + size;
    END LOOP;
    RETURN lo;
END
$_$;

CREATE FUNCTION public.ledger_decided_call(body bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'tool_call_id' $$;

CREATE FUNCTION public.ledger_detach_range(p_origin text, lo bigint, hi bigint, p_drop boolean) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
    parent text;
    tail bigint;
    r record;
    at bigint := lo;
    done text[] := '{}';
BEGIN
    SELECT 'ledger_events_' || p.suffix INTO parent FROM ledger_partitions p
    WHERE p.origin = p_origin AND p_origin <> '' AND p.own_partition AND p.detached_at IS NULL;
    IF parent IS NULL THEN
        RAISE EXCEPTION 'origin % has no partition of its own: ranges of the shared DEFAULT '
                        'partition hold other tenants'' events', p_origin
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT max(c.tree_size) - 1 INTO tail FROM ledger_checkpoints c WHERE c.origin = p_origin;
    IF tail IS NOT NULL AND hi > tail THEN
        RAISE EXCEPTION 'range [%, %) holds the newest checkpoint''s tail (seq %)', lo, hi, tail
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT c.relname::text AS name,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                  'FROM \(''?(-?\d+)''?\)'))[1]::bigint AS rlo,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                  'TO \(''?(-?\d+)''?\)'))[1]::bigint AS rhi
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = parent::regclass AND NOT c.relpartbound IS NULL
             ORDER BY 2 LOOP
        CONTINUE WHEN r.rlo IS NULL OR r.rhi <= lo OR r.rlo >= hi;
        IF r.rlo <> at OR r.rhi > hi THEN
            RAISE EXCEPTION 'range [%, %) is not covered exactly by whole partitions', lo, hi
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        done := done || r.name;
        at := r.rhi;
    END LOOP;
    IF at <> hi OR cardinality(done) = 0 THEN
        RAISE EXCEPTION 'range [%, %) is not covered exactly by whole partitions', lo, hi
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR at IN 1 .. cardinality(done) LOOP
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, done[at]);
        IF p_drop THEN
            EXECUTE format('DROP TABLE %I', done[at]);
        ELSE
            PERFORM ledger_keep_append_only(done[at], 'ledger_events');
        END IF;
    END LOOP;
    UPDATE ledger_partitions p
    SET detached = p.detached || jsonb_build_array(jsonb_build_object(
        'lo', lo, 'hi', hi, 'tables', to_jsonb(done), 'dropped', p_drop,
        'at', clock_timestamp()))
    WHERE p.origin = p_origin;
    RETURN done;
END
$$;

CREATE FUNCTION public.ledger_detach_tenant(p_origin text) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
    s text; tbl text; waiting bigint;
    done text[] := '{}';
BEGIN
    SELECT p.suffix INTO s FROM ledger_partitions p
    WHERE p.origin = p_origin AND p_origin <> '' AND p.own_partition AND p.detached_at IS NULL;
    IF s IS NULL THEN
        RAISE EXCEPTION 'no attached partition of its own for %', p_origin
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*) INTO waiting FROM ledger_intake i WHERE i.origin = p_origin;
    IF waiting > 0 THEN
        RAISE EXCEPTION 'intake still holds % events of %: sequence or reject them first',
            waiting, p_origin USING ERRCODE = 'object_in_use';
    END IF;
    FOREACH tbl IN ARRAY ARRAY['ledger_events', 'ledger_tiles', 'ledger_checkpoints',
                               'ledger_cosigned'] LOOP
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', tbl, tbl || '_' || s);
        PERFORM ledger_keep_append_only(tbl || '_' || s, tbl);
        done := done || (tbl || '_' || s);
    END LOOP;
    UPDATE ledger_partitions p SET detached_at = clock_timestamp() WHERE p.origin = p_origin;
    RETURN done;
END
$$;

CREATE FUNCTION public.ledger_ensure_ranges(p_origin text, p_upto bigint, OUT hi bigint, OUT range_size bigint, OUT created integer) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
    parent text;
    before bigint;
BEGIN
    SELECT 'ledger_events_' || p.suffix, p.range_size INTO parent, range_size
    FROM ledger_partitions p
    WHERE p.own_partition AND p.detached_at IS NULL AND p.origin IN (p_origin, '')
    ORDER BY p.origin DESC LIMIT 1;
    before := ledger_range_hi(parent);
    created := 0;
    hi := before;
    IF before >= (greatest(p_upto, 0) / range_size + 2) * range_size THEN
        RETURN;  -- the common case: no lock, nothing to wait for
    END IF;
    PERFORM pg_advisory_xact_lock(7162534, hashtext(parent));
    before := ledger_range_hi(parent);
    hi := ledger_create_ranges(parent, range_size, p_upto);
    created := ((hi - before) / range_size)::integer;
END
$$;

CREATE FUNCTION public.ledger_keep_append_only(part text, root text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = root::regclass
               AND t.tgname = root || '_append_only') THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE OR UPDATE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION ledger_refuse_change()', root || '_append_only', part);
    END IF;
END
$$;

CREATE FUNCTION public.ledger_live_version() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT coalesce(max(c.version), 0) FROM public.ledger_live_changes c
$$;

CREATE FUNCTION public.ledger_logged_ids(ids uuid[]) RETURNS uuid[]
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT coalesce(array_agg(e.event_id), '{}') FROM public.ledger_events e
    WHERE e.event_id = ANY(ids) AND public.ledger_api_visible(e.origin, e.body)
$$;

CREATE FUNCTION public.ledger_metric_rows(p_origin text, p_from bigint, p_to bigint) RETURNS TABLE(seq bigint, kind text, a text, b text, c text, amount numeric, tokens_in bigint, tokens_out bigint, wait double precision)
    LANGUAGE sql STABLE
    AS $_$
    WITH ev AS MATERIALIZED (
        SELECT e.seq, e.type, e.run_id, e.recorded_at,
               j.b -> 'agent' ->> 'name' AS agent, j.b -> 'agent' ->> 'version' AS version,
               j.b -> 'data' ->> 'tool_call_id' AS call_id, j.b -> 'data' ->> 'tool' AS tool,
               j.b -> 'data' ->> 'status' AS status, j.b -> 'data' ->> 'decision' AS decision,
               j.b -> 'data' ->> 'mode' AS mode,
               j.b -> 'data' -> 'cost' ->> 'amount_usd' AS usd,
               j.b -> 'data' -> 'usage' ->> 'input_tokens' AS t_in,
               j.b -> 'data' -> 'usage' ->> 'output_tokens' AS t_out,
               j.b -> 'data' ->> 'approval_id' AS approval_id,
               j.b -> 'data' ->> 'call_run_id' AS call_run_id
        FROM ledger_events e
        CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS b OFFSET 0) j
        WHERE e.origin = p_origin AND e.seq >= p_from AND (p_to IS NULL OR e.seq < p_to)
          AND e.type IN ('run.ended', 'tool.call.ended', 'policy.decided', 'llm.call.ended',
                         'approval.decided')
    ), starts AS (
        -- the seed: every tool.call.started of the log, one pass of the type index
        SELECT t.run_id, t.body FROM ledger_events t
        WHERE p_from = 0 AND t.origin = p_origin AND t.type = 'tool.call.started'
        UNION ALL
        -- a batch: the tool.call.started of the runs whose calls ended in it (run index)
        SELECT t.run_id, t.body
        FROM (SELECT DISTINCT ev.run_id FROM ev WHERE ev.type = 'tool.call.ended') r
        CROSS JOIN LATERAL (
            SELECT x.run_id, x.body FROM ledger_events x
            WHERE x.run_id = r.run_id AND x.type = 'tool.call.started') t
        WHERE p_from > 0
    ), tagged AS (
        -- started and ended calls side by side; a window (a sort, never a nested loop,
        -- whatever the planner estimates) gives each ended call the side effect of its start
        SELECT y.seq, y.call_id, y.run_id, y.tool, y.status, y.side_effect
        FROM (
            SELECT x.*, max(x.side) OVER (PARTITION BY x.run_id, x.call_id) AS side_effect
            FROM (SELECT ev.seq, ev.run_id, ev.call_id, ev.tool, ev.status, NULL::text AS side
                  FROM ev WHERE ev.type = 'tool.call.ended'
                  UNION ALL
                  SELECT NULL::bigint, st.run_id, d.d ->> 'tool_call_id', NULL::text,
                         NULL::text, coalesce(d.d ->> 'side_effect', 'false')
                  FROM starts st
                  CROSS JOIN LATERAL (SELECT convert_from(st.body, 'UTF8')::jsonb -> 'data'
                                             AS d OFFSET 0) d) x
        ) y
        WHERE y.seq IS NOT NULL
    ), ended AS (
        SELECT ev.seq, ev.type, ev.run_id, ev.recorded_at, ev.agent, ev.version, ev.tool,
               ev.status, ev.decision, ev.mode, ev.usd, ev.t_in, ev.t_out, ev.approval_id,
               ev.call_run_id, NULL::text AS side_effect
        FROM ev WHERE ev.type <> 'tool.call.ended'
        UNION ALL
        SELECT t.seq, 'tool.call.ended', t.run_id, NULL, NULL, NULL, t.tool, t.status, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, t.side_effect
        FROM tagged t
    )
    SELECT ev.seq,
           CASE ev.type WHEN 'run.ended' THEN 'runs' WHEN 'tool.call.ended' THEN 'tool_calls'
                        WHEN 'policy.decided' THEN 'decisions' WHEN 'llm.call.ended' THEN 'llm'
                        ELSE 'approval_wait' END,
           CASE ev.type WHEN 'tool.call.ended' THEN coalesce(ev.tool, '')
                        WHEN 'policy.decided' THEN coalesce(ev.decision, '')
                        WHEN 'approval.decided' THEN coalesce(ev.decision, '')
                        ELSE coalesce(ev.agent, '') END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.version, '')
                        WHEN 'tool.call.ended' THEN coalesce(ev.side_effect, 'false')
                        WHEN 'policy.decided' THEN coalesce(ev.mode, '')
                        ELSE '' END,
           CASE ev.type WHEN 'run.ended' THEN coalesce(ev.status, 'succeeded')
                        WHEN 'tool.call.ended' THEN coalesce(ev.status, '')
                        ELSE '' END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.usd ~ '^[0-9]{1,30}(\.[0-9]{1,30})?$'
                THEN ev.usd::numeric ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.t_in ~ '^[0-9]{1,15}$'
                THEN ev.t_in::bigint ELSE 0 END,
           CASE WHEN ev.type = 'llm.call.ended' AND ev.t_out ~ '^[0-9]{1,15}$'
                THEN ev.t_out::bigint ELSE 0 END,
           extract(epoch FROM ev.recorded_at - r.requested_at)::float8
    FROM ended ev
    LEFT JOIN LATERAL (
        SELECT q.recorded_at AS requested_at FROM ledger_events q
        WHERE ev.type = 'approval.decided'
          AND q.run_id = CASE WHEN ev.call_run_id ~ '^[0-9a-f-]{36}$'
                              THEN ev.call_run_id::uuid ELSE ev.run_id END
          AND q.type = 'approval.requested'
          AND convert_from(q.body, 'UTF8')::jsonb -> 'data' ->> 'approval_id' = ev.approval_id
        ORDER BY q.run_seq LIMIT 1) r ON true
$_$;

CREATE FUNCTION public.ledger_own_partition(p_origin text, p_tenant text, p_size bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
DECLARE
    suffix text := 't_' || left(lower(regexp_replace(p_tenant, '[^A-Za-z0-9]+', '_', 'g')), 20)
                   || '_' || left(md5(p_origin), 8);
    tbl text; part text; copied bigint; deleted bigint;
    moved bigint := 0;
    guarded boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_partitions p WHERE p.origin = p_origin AND p.own_partition) THEN
        RAISE EXCEPTION 'tenant % already has a partition of its own', p_tenant
            USING ERRCODE = 'duplicate_table';
    END IF;
    FOREACH tbl IN ARRAY ARRAY['ledger_events', 'ledger_tiles', 'ledger_checkpoints',
                               'ledger_cosigned'] LOOP
        part := tbl || '_' || suffix;
        IF tbl = 'ledger_events' THEN
            EXECUTE format('CREATE TABLE public.%I (LIKE ledger_events INCLUDING DEFAULTS INCLUDING '
                           'CONSTRAINTS) PARTITION BY RANGE (seq)', part);
            EXECUTE format('CREATE TABLE public.%I PARTITION OF %I DEFAULT', part || '_rest', part);
            PERFORM ledger_partition_guard(part || '_rest', tbl);
            PERFORM ledger_create_ranges(part, p_size, (SELECT coalesce(max(e.seq), 0)
                                                        FROM ledger_events e
                                                        WHERE e.origin = p_origin));
        ELSE
            EXECUTE format('CREATE TABLE public.%I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           part, tbl);
        END IF;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE origin = $1', part, tbl)
            USING p_origin;
        GET DIAGNOSTICS copied = ROW_COUNT;
        IF copied > 0 THEN
            guarded := EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = tbl::regclass
                               AND t.tgname = tbl || '_append_only');
            IF guarded THEN
                EXECUTE format('ALTER TABLE %I DISABLE TRIGGER %I', tbl || '_default',
                               tbl || '_append_only');
            END IF;
            EXECUTE format('DELETE FROM %I WHERE origin = $1', tbl || '_default') USING p_origin;
            GET DIAGNOSTICS deleted = ROW_COUNT;
            IF guarded THEN
                EXECUTE format('ALTER TABLE %I ENABLE TRIGGER %I', tbl || '_default',
                               tbl || '_append_only');
            END IF;
            IF deleted <> copied THEN
                RAISE EXCEPTION 'moving % of %: copied % rows but % left the default partition',
                    tbl, p_tenant, copied, deleted;
            END IF;
        END IF;
        IF tbl = 'ledger_events' THEN moved := copied; END IF;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%L)', tbl, part,
                       p_origin);
        PERFORM ledger_partition_guard(part, tbl);
    END LOOP;
    INSERT INTO ledger_partitions AS p (origin, tenant, own_partition, suffix, range_size)
    VALUES (p_origin, p_tenant, true, suffix, p_size)
    ON CONFLICT (origin) DO UPDATE SET own_partition = true, suffix = EXCLUDED.suffix,
                                       range_size = EXCLUDED.range_size;
    RETURN moved;
END
$_$;

CREATE FUNCTION public.ledger_partition_guard(part text, root text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = root::regclass
               AND t.tgname = root || '_no_truncate') THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION ledger_refuse_change()', part || '_no_truncate', part);
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
END
$$;

CREATE FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) RETURNS TABLE(version bigint, origin text, seq bigint, event_id uuid, policy_hash text, document jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

CREATE FUNCTION public.ledger_published_policy(body bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'policy_hash' $$;

CREATE FUNCTION public.ledger_range_hi(parent text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT coalesce(max((regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                      'TO \(''?(-?\d+)''?\)'))[1]::bigint), 0)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = parent::regclass
$$;

CREATE FUNCTION public.ledger_receipts(ids uuid[]) RETURNS TABLE(event_id uuid, state text, seq bigint, leaf_hash bytea, body bytea, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT r.id,
           CASE WHEN e.event_id IS NOT NULL THEN 'sequenced'
                WHEN i.event_id IS NOT NULL THEN 'pending'
                WHEN j.reason IS NOT NULL THEN 'rejected' ELSE 'unknown' END,
           e.seq, e.leaf_hash, coalesce(e.body, i.body), j.reason
    FROM unnest(ids) AS r(id)
    LEFT JOIN public.ledger_events e
           ON e.event_id = r.id AND public.ledger_api_visible(e.origin, e.body)
    LEFT JOIN public.ledger_intake i
           ON i.event_id = r.id AND public.ledger_api_visible(i.origin, i.body)
    LEFT JOIN LATERAL (SELECT x.reason FROM public.ledger_rejects x
                       WHERE x.event_id = r.id AND public.ledger_api_visible(x.origin, x.body)
                       ORDER BY x.rejected_at DESC LIMIT 1) AS j ON true
    ORDER BY r.id
$$;

CREATE FUNCTION public.ledger_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION public.ledger_registries(o text) RETURNS TABLE(seq bigint, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT e.seq, e.body FROM public.ledger_events e
    WHERE e.origin = o AND e.type = 'registry.published' AND public.ledger_api_visible(o, NULL)
    ORDER BY e.seq
$$;

CREATE FUNCTION public.ledger_reject_reasons(ids uuid[]) RETURNS TABLE(event_id uuid, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT DISTINCT ON (r.event_id) r.event_id, r.reason
    FROM public.ledger_rejects r
    WHERE r.event_id = ANY (ids) AND public.ledger_api_visible(r.origin, r.body)
    ORDER BY r.event_id, r.rejected_at DESC
$$;

CREATE FUNCTION public.ledger_run_approvals(p_run uuid) RETURNS TABLE(approval_id text, tool_call_id text, tool text, args_hash text, requested_event_id uuid, decision text, released_args_hash text, started boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    WITH run_events AS (
        SELECT y.origin, y.event_id, y.run_seq, y.body,
               public.ledger_body_json(y.body) AS j
        FROM (SELECT e.origin, e.event_id, e.run_seq, e.body FROM public.ledger_events e
              WHERE e.run_id = p_run
                AND e.type IN ('approval.requested', 'tool.call.started')
              UNION ALL
              SELECT i.origin, i.event_id, i.run_seq, i.body FROM public.ledger_intake i
              WHERE i.run_id = p_run) AS y
    ), req AS (
        SELECT r.origin, r.event_id, r.run_seq, r.body, r.j -> 'data' AS d FROM run_events r
        WHERE r.j ->> 'type' = 'approval.requested' AND r.j -> 'data' ? 'approval_id'
    )
    SELECT q.d ->> 'approval_id', q.d ->> 'tool_call_id', q.d ->> 'tool', q.d ->> 'args_hash',
           q.event_id, dec.d ->> 'decision',
           coalesce(dec.d ->> 'edited_args_hash', dec.d ->> 'args_hash'),
           EXISTS (SELECT 1 FROM run_events s
                   WHERE s.j ->> 'type' = 'tool.call.started' AND s.run_seq > q.run_seq
                     AND s.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id')
    FROM req q
    LEFT JOIN LATERAL (  -- the newest: one still in intake, else the latest logged
        SELECT y.d FROM (
            SELECT 1 AS src, e.seq AS pos,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb -> 'data' AS d
            FROM public.ledger_events e
            WHERE e.origin = q.origin AND e.type = 'approval.decided'
              AND public.ledger_decided_call(e.body) = q.d ->> 'tool_call_id'
            UNION ALL
            SELECT 2, i.intake_id, x.j -> 'data'
            FROM public.ledger_intake i
            CROSS JOIN LATERAL (SELECT public.ledger_body_json(i.body) AS j) AS x
            WHERE i.origin = q.origin AND x.j ->> 'type' = 'approval.decided'
              AND x.j -> 'data' ->> 'tool_call_id' = q.d ->> 'tool_call_id'
        ) AS y
        WHERE y.d ->> 'approval_id' = q.d ->> 'approval_id'
        ORDER BY y.src DESC, y.pos DESC LIMIT 1
    ) AS dec ON true
    WHERE public.ledger_api_visible(q.origin, q.body)
    ORDER BY q.run_seq
$$;

CREATE FUNCTION public.ledger_run_attempts(p_run uuid) RETURNS TABLE(tool_call_id text, attempts integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    WITH o AS (  -- the logged first event wins over one in intake (a run is one log's)
        SELECT y.origin, y.body FROM (
            SELECT e.origin, e.body, 1 AS src FROM public.ledger_events e
            WHERE e.run_id = p_run AND e.run_seq = 0
            UNION ALL
            SELECT i.origin, i.body, 2 FROM public.ledger_intake i
            WHERE i.run_id = p_run AND i.run_seq = 0
        ) AS y ORDER BY y.src LIMIT 1
    ), starts AS (  -- each start once: an event may be both logged and still in intake
        SELECT DISTINCT ON (s.event_id) s.event_id, s.j -> 'data' AS d FROM (
            SELECT e.event_id,
                   pg_catalog.convert_from(e.body, 'UTF8')::pg_catalog.jsonb AS j
            FROM public.ledger_events e JOIN o ON e.origin = o.origin
            WHERE e.run_id = p_run AND e.type = 'tool.call.started'
            UNION ALL
            SELECT i.event_id, public.ledger_body_json(i.body)  -- NULL for bytes not JSON (0020)
            FROM public.ledger_intake i JOIN o ON i.origin = o.origin
            WHERE i.run_id = p_run
        ) AS s
        WHERE s.j ->> 'type' = 'tool.call.started'
    )
    SELECT s.d ->> 'tool_call_id',
           greatest(count(*), max(
               CASE WHEN pg_catalog.jsonb_typeof(s.d -> 'attempt') = 'number'
                    THEN least((s.d ->> 'attempt')::numeric, 1000000000)
                    ELSE 1 END))::integer
    FROM starts s CROSS JOIN o
    WHERE public.ledger_api_visible(o.origin, o.body) AND s.d ->> 'tool_call_id' IS NOT NULL
    GROUP BY s.d ->> 'tool_call_id'
$$;

CREATE FUNCTION public.ledger_run_head(run uuid) RETURNS TABLE(run_seq bigint, leaf_hash bytea, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT h.run_seq, h.leaf_hash, h.body FROM (
        SELECT e.run_seq, e.leaf_hash, NULL::bytea AS body FROM public.ledger_events e
        WHERE e.run_id = run AND public.ledger_api_visible(e.origin, e.body)
        UNION ALL
        SELECT i.run_seq, NULL, i.body FROM public.ledger_intake i
        WHERE i.run_id = run AND public.ledger_api_visible(i.origin, i.body)
    ) AS h ORDER BY h.run_seq DESC LIMIT 1
$$;

CREATE FUNCTION public.ledger_run_newest(p_origin text, p_run uuid) RETURNS TABLE(run_seq bigint, leaf_hash bytea, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT h.run_seq, h.leaf_hash, h.body FROM (
        SELECT e.run_seq, e.leaf_hash, e.body FROM public.ledger_events e
        WHERE e.run_id = p_run AND e.origin = p_origin
        UNION ALL
        SELECT i.run_seq, NULL, i.body FROM public.ledger_intake i
        WHERE i.run_id = p_run AND i.origin = p_origin
    ) AS h ORDER BY h.run_seq DESC LIMIT 1
$$;

CREATE FUNCTION public.ledger_run_resume_point(p_run uuid) RETURNS TABLE(origin text, head_seq bigint, head_leaf bytea, head_body bytea, started_body bytea, suspended_body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    WITH o AS (  -- the logged first event wins over one in intake (a run is one log's)
        SELECT y.origin, y.body FROM (
            SELECT e.origin, e.body, 1 AS src FROM public.ledger_events e
            WHERE e.run_id = p_run AND e.run_seq = 0
            UNION ALL
            SELECT i.origin, i.body, 2 FROM public.ledger_intake i
            WHERE i.run_id = p_run AND i.run_seq = 0
        ) AS y ORDER BY y.src LIMIT 1
    )
    SELECT o.origin, h.run_seq, h.leaf_hash, h.body, o.body,
           (SELECT y.body FROM (
                SELECT e.run_seq, e.body FROM public.ledger_events e
                WHERE e.run_id = p_run AND e.origin = o.origin AND e.type = 'run.suspended'
                UNION ALL
                SELECT i.run_seq, i.body FROM public.ledger_intake i
                WHERE i.run_id = p_run AND i.origin = o.origin
                  AND public.ledger_body_json(i.body) ->> 'type' = 'run.suspended'
            ) AS y ORDER BY y.run_seq DESC LIMIT 1)
    FROM o CROSS JOIN LATERAL public.ledger_run_newest(o.origin, p_run) AS h
    WHERE public.ledger_api_visible(o.origin, o.body)
$$;

CREATE FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT y.event_id FROM (
        SELECT e.event_id, e.origin, 1 AS src, 0::bigint AS pos FROM public.ledger_events e
        WHERE e.run_id = p_run AND e.run_seq = p_seq
        UNION ALL
        SELECT i.event_id, i.origin, 2, i.intake_id FROM public.ledger_intake i
        WHERE i.run_id = p_run AND i.run_seq = p_seq
    ) AS y
    WHERE public.ledger_api_visible(y.origin, NULL)
    ORDER BY y.src, y.pos LIMIT 1
$$;

CREATE FUNCTION public.ledger_run_totals_add(p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[], p_unknown bigint[]) RETURNS TABLE(run_id uuid, cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
    n integer := pg_catalog.cardinality(p_ids);
    trusted boolean;
BEGIN
    IF p_ids IS NULL OR n = 0 THEN
        RETURN;
    END IF;
    -- unnest pads shorter arrays with NULL: every array must be as long as p_ids, no NULLs
    IF n IS DISTINCT FROM pg_catalog.cardinality(p_origins)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_runs)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_cost)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_tokens)
       OR n IS DISTINCT FROM pg_catalog.cardinality(p_unknown)
       OR pg_catalog.array_position(p_ids, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_origins, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_runs, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_cost, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_tokens, NULL) IS NOT NULL
       OR pg_catalog.array_position(p_unknown, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'run totals: arrays of unequal length or with NULLs'
            USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_origins) AS o(origin)
               WHERE NOT public.ledger_api_visible(o.origin, NULL)) THEN
        RAISE EXCEPTION 'run totals: origin not writable by %', session_user
            USING ERRCODE = '42501';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_cost, p_tokens, p_unknown) AS d(c, t, u)
               WHERE d.c < 0 OR d.t < 0 OR d.u < 0) THEN
        RAISE EXCEPTION 'run totals: negative delta' USING ERRCODE = '22023';
    END IF;
    -- NaN sorts above every number and Infinity is not < 0: both would poison a total forever
    IF EXISTS (SELECT 1 FROM unnest(p_cost, p_tokens, p_unknown) AS d(c, t, u)
               WHERE d.c = 'NaN'::numeric OR d.c >= 1e12
                  OR d.t >= 1000000000000000 OR d.u >= 1000000000000000) THEN
        RAISE EXCEPTION 'run totals: delta not finite or out of range' USING ERRCODE = '22023';
    END IF;
    trusted := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)
        OR pg_catalog.pg_has_role(session_user,
                                  (SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid = 'public.ledger_events'::pg_catalog.regclass),
                                  'MEMBER')
        OR pg_catalog.pg_has_role(session_user, 'ledger_sequencer', 'MEMBER')
        OR pg_catalog.pg_has_role(session_user, 'ledger_operator', 'MEMBER');
    -- a writer's delta counts only for an event it submitted itself, still in intake
    IF NOT trusted AND EXISTS (
            SELECT 1 FROM unnest(p_ids, p_origins, p_runs, p_cost, p_tokens, p_unknown)
                              AS d(event_id, origin, run_id, c, t, u)
            WHERE (d.c <> 0 OR d.t <> 0 OR d.u <> 0)
              AND NOT EXISTS (SELECT 1 FROM public.ledger_intake i
                              WHERE i.event_id = d.event_id AND i.origin = d.origin
                                AND i.run_id = d.run_id AND i.submitted_by = session_user)) THEN
        RAISE EXCEPTION 'run totals: delta for an event not submitted by %', session_user
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM public.ledger_run_totals_seen s USING public.ledger_events e
    WHERE s.run_id = ANY(p_runs) AND e.event_id = s.event_id;  -- sequenced: never again
    RETURN QUERY
    WITH b AS (  -- the agent is the one the event's own body names ('' if none is known)
        SELECT d.event_id, d.origin, d.run_id, d.c, d.t, d.u,
               coalesce(public.ledger_body_agent(coalesce(i.body, e.body)), '') AS agent,
               (d.c <> 0 OR d.t <> 0 OR d.u <> 0) AS moves
        FROM unnest(p_ids, p_origins, p_runs, p_cost, p_tokens, p_unknown)
                 AS d(event_id, origin, run_id, c, t, u)
        LEFT JOIN public.ledger_intake i ON i.event_id = d.event_id AND i.origin = d.origin
        LEFT JOIN public.ledger_events e ON e.event_id = d.event_id AND e.origin = d.origin
    ), fresh AS (  -- zero deltas count nothing: only events that move a total are remembered
        INSERT INTO public.ledger_run_totals_seen AS s (event_id, run_id)
        SELECT DISTINCT ON (b.event_id) b.event_id, b.run_id
        FROM b WHERE b.moves
        ON CONFLICT (event_id) DO NOTHING
        RETURNING s.event_id
    ), sums AS (
        SELECT b.origin, b.run_id, b.agent,
               coalesce(sum(b.c) FILTER (WHERE f.event_id IS NOT NULL), 0) AS dc,
               coalesce(sum(b.t) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS dt,
               coalesce(sum(b.u) FILTER (WHERE f.event_id IS NOT NULL), 0)::bigint AS du
        FROM b LEFT JOIN fresh f ON f.event_id = b.event_id
        GROUP BY b.origin, b.run_id, b.agent
    ), up AS (
        INSERT INTO public.ledger_run_totals AS r
               (origin, run_id, agent, cost_usd, total_tokens, unknown_cost_calls)
        SELECT x.origin, x.run_id, x.agent, x.dc, x.dt, x.du FROM sums x
        WHERE x.dc <> 0 OR x.dt <> 0 OR x.du <> 0
        ON CONFLICT ON CONSTRAINT ledger_run_totals_pkey DO UPDATE
           SET cost_usd = r.cost_usd + excluded.cost_usd,
               total_tokens = r.total_tokens + excluded.total_tokens,
               unknown_cost_calls = r.unknown_cost_calls + excluded.unknown_cost_calls,
               updated_at = now()
        RETURNING r.run_id, r.cost_usd, r.total_tokens, r.unknown_cost_calls
    ), unchanged AS (  -- runs this batch did not move: read, never written
        SELECT x.origin, x.run_id, x.agent FROM sums x
        WHERE x.dc = 0 AND x.dt = 0 AND x.du = 0
          AND public.ledger_run_totals_visible(x.origin, x.agent)
    )
    SELECT up.run_id, up.cost_usd, up.total_tokens, up.unknown_cost_calls FROM up
    UNION ALL
    SELECT u.run_id, coalesce(r.cost_usd, 0), coalesce(r.total_tokens, 0),
           coalesce(r.unknown_cost_calls, 0)
    FROM unchanged u LEFT JOIN public.ledger_run_totals r
         ON r.origin = u.origin AND r.run_id = u.run_id AND r.agent = u.agent;
END
$$;

CREATE FUNCTION public.ledger_run_totals_of(p_run uuid) RETURNS TABLE(cost_usd numeric, total_tokens bigint, unknown_cost_calls bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT t.cost_usd, t.total_tokens, t.unknown_cost_calls FROM public.ledger_run_totals t
    WHERE t.run_id = p_run AND public.ledger_run_totals_visible(t.origin, t.agent)
    ORDER BY t.updated_at DESC
$$;

CREATE FUNCTION public.ledger_run_totals_visible(o text, agent text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT public.ledger_api_visible(o, pg_catalog.convert_to(pg_catalog.jsonb_build_object(
        'agent', pg_catalog.jsonb_build_object('name', NULLIF(agent, '')))::text, 'UTF8'))
$$;

CREATE FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) RETURNS TABLE(version bigint, origin text, target text, target_run_id uuid, stop_event_id uuid, requested_by text, reason text, authority text, recorded_at timestamp with time zone, lifted boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT s.version, s.origin, s.target, s.target_run_id, s.stop_event_id, s.requested_by,
           s.reason, s.authority, s.recorded_at, s.lifted_event_id IS NOT NULL
    FROM public.ledger_stops s
    WHERE s.version > p_since
      AND (p_since > 0 OR s.lifted_event_id IS NULL)
      AND (p_origins IS NULL OR s.origin = ANY(p_origins))
      AND public.ledger_api_visible(s.origin, NULL)
    ORDER BY s.version
$$;

CREATE FUNCTION public.ledger_subject_public_key(o text, subj text) RETURNS TABLE(scheme text, public_key bytea, kek_id text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT k.scheme, k.public_key, k.kek_id FROM public.ledger_subject_keys k
    WHERE k.origin = o AND k.subject = subj AND k.public_key IS NOT NULL
      AND public.ledger_api_visible(o, NULL)
$$;

CREATE FUNCTION public.ledger_suspended_run(p_origin text, p_key text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT c.run_id FROM (
        SELECT s.run_id, s.suspended_event_id AS event_id, 1 AS src, s.suspended_seq AS pos
        FROM public.ledger_suspended_runs s
        WHERE s.origin = p_origin AND s.resume_key = p_key
        UNION ALL
        SELECT i.run_id, i.event_id, 2, i.intake_id FROM public.ledger_intake i
        CROSS JOIN LATERAL (SELECT public.ledger_body_json(i.body) AS j) AS x
        WHERE i.origin = p_origin AND x.j ->> 'type' = 'run.suspended'
          AND x.j -> 'data' ->> 'resume_key' = p_key
    ) AS c
    CROSS JOIN LATERAL public.ledger_run_newest(p_origin, c.run_id) AS h
    WHERE public.ledger_api_visible(p_origin, NULL)
      AND public.ledger_body_json(h.body) ->> 'event_id' = c.event_id::text
    ORDER BY c.src DESC, c.pos DESC LIMIT 1
$$;

CREATE FUNCTION public.ledger_visible_origin(o text, r name) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT NOT EXISTS (SELECT 1 FROM public.ledger_tenant_roles)
        OR EXISTS (
            SELECT 1 FROM public.ledger_tenant_roles m
            WHERE m.role_name = r
              AND (m.tenant = '*' OR right(o, length(m.tenant) + 1) = '/' || m.tenant)
        )
$$;

CREATE FUNCTION public.ledger_writer_may_write(o text, body bytea) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    SELECT NOT EXISTS (SELECT 1 FROM public.ledger_writer_bindings)
        OR EXISTS (
            SELECT 1 FROM public.ledger_writer_bindings b
            WHERE b.role_name = session_user
              AND (b.tenant = '*' OR right(o, length(b.tenant) + 1) = '/' || b.tenant)
              AND CASE WHEN b.agent IS NULL OR body IS NULL THEN true
                       ELSE public.ledger_body_agent(body) IS NOT DISTINCT FROM b.agent END
        )
$$;

CREATE TABLE public.ledger_checkpoints (
    origin text NOT NULL,
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    note text NOT NULL,
    frontier bytea NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    stamp_start bigint,
    stamp_head bytea,
    stamp_note text,
    CONSTRAINT checkpoint_stamp_shape CHECK ((((stamp_note IS NULL) AND (stamp_head IS NULL) AND (stamp_start IS NULL)) OR ((stamp_note IS NOT NULL) AND (length(stamp_head) = 32) AND ((stamp_start >= 0) AND (stamp_start <= tree_size))))),
    CONSTRAINT ledger_checkpoints_tree_size_check CHECK ((tree_size > 0))
)
PARTITION BY LIST (origin);

CREATE TABLE public.ledger_checkpoints_default (
    origin text CONSTRAINT ledger_checkpoints_origin_not_null NOT NULL,
    tree_size bigint CONSTRAINT ledger_checkpoints_tree_size_not_null NOT NULL,
    root_hash bytea CONSTRAINT ledger_checkpoints_root_hash_not_null NOT NULL,
    note text CONSTRAINT ledger_checkpoints_note_not_null NOT NULL,
    frontier bytea CONSTRAINT ledger_checkpoints_frontier_not_null NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() CONSTRAINT ledger_checkpoints_created_at_not_null NOT NULL,
    stamp_start bigint,
    stamp_head bytea,
    stamp_note text,
    CONSTRAINT checkpoint_stamp_shape CHECK ((((stamp_note IS NULL) AND (stamp_head IS NULL) AND (stamp_start IS NULL)) OR ((stamp_note IS NOT NULL) AND (length(stamp_head) = 32) AND ((stamp_start >= 0) AND (stamp_start <= tree_size))))),
    CONSTRAINT ledger_checkpoints_tree_size_check CHECK ((tree_size > 0))
);

CREATE TABLE public.ledger_cosigned (
    origin text NOT NULL,
    tree_size bigint NOT NULL,
    note text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT ledger_cosigned_tree_size_check CHECK ((tree_size > 0))
)
PARTITION BY LIST (origin);

CREATE TABLE public.ledger_cosigned_default (
    origin text CONSTRAINT ledger_cosigned_origin_not_null NOT NULL,
    tree_size bigint CONSTRAINT ledger_cosigned_tree_size_not_null NOT NULL,
    note text CONSTRAINT ledger_cosigned_note_not_null NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() CONSTRAINT ledger_cosigned_created_at_not_null NOT NULL,
    CONSTRAINT ledger_cosigned_tree_size_check CHECK ((tree_size > 0))
);

CREATE TABLE public.ledger_event_keys (
    event_id uuid NOT NULL,
    run_id uuid NOT NULL,
    run_seq bigint NOT NULL,
    origin text NOT NULL
);

CREATE TABLE public.ledger_events (
    origin text NOT NULL,
    seq bigint NOT NULL,
    event_id uuid NOT NULL,
    run_id uuid NOT NULL,
    run_seq bigint NOT NULL,
    type text NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    body bytea NOT NULL,
    leaf_hash bytea NOT NULL,
    submitted_by name,
    CONSTRAINT ledger_events_seq_check CHECK ((seq >= 0))
)
PARTITION BY LIST (origin);

CREATE TABLE public.ledger_events_default (
    origin text CONSTRAINT ledger_events_origin_not_null NOT NULL,
    seq bigint CONSTRAINT ledger_events_seq_not_null NOT NULL,
    event_id uuid CONSTRAINT ledger_events_event_id_not_null NOT NULL,
    run_id uuid CONSTRAINT ledger_events_run_id_not_null NOT NULL,
    run_seq bigint CONSTRAINT ledger_events_run_seq_not_null NOT NULL,
    type text CONSTRAINT ledger_events_type_not_null NOT NULL,
    occurred_at timestamp with time zone CONSTRAINT ledger_events_occurred_at_not_null NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() CONSTRAINT ledger_events_recorded_at_not_null NOT NULL,
    body bytea CONSTRAINT ledger_events_body_not_null NOT NULL,
    leaf_hash bytea CONSTRAINT ledger_events_leaf_hash_not_null NOT NULL,
    submitted_by name,
    CONSTRAINT ledger_events_seq_check CHECK ((seq >= 0))
)
PARTITION BY RANGE (seq);

CREATE TABLE public.ledger_events_default_r0 (
    origin text CONSTRAINT ledger_events_origin_not_null NOT NULL,
    seq bigint CONSTRAINT ledger_events_seq_not_null NOT NULL,
    event_id uuid CONSTRAINT ledger_events_event_id_not_null NOT NULL,
    run_id uuid CONSTRAINT ledger_events_run_id_not_null NOT NULL,
    run_seq bigint CONSTRAINT ledger_events_run_seq_not_null NOT NULL,
    type text CONSTRAINT ledger_events_type_not_null NOT NULL,
    occurred_at timestamp with time zone CONSTRAINT ledger_events_occurred_at_not_null NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() CONSTRAINT ledger_events_recorded_at_not_null NOT NULL,
    body bytea CONSTRAINT ledger_events_body_not_null NOT NULL,
    leaf_hash bytea CONSTRAINT ledger_events_leaf_hash_not_null NOT NULL,
    submitted_by name,
    CONSTRAINT ledger_events_seq_check CHECK ((seq >= 0))
);

CREATE TABLE public.ledger_events_default_r1 (
    origin text CONSTRAINT ledger_events_origin_not_null NOT NULL,
    seq bigint CONSTRAINT ledger_events_seq_not_null NOT NULL,
    event_id uuid CONSTRAINT ledger_events_event_id_not_null NOT NULL,
    run_id uuid CONSTRAINT ledger_events_run_id_not_null NOT NULL,
    run_seq bigint CONSTRAINT ledger_events_run_seq_not_null NOT NULL,
    type text CONSTRAINT ledger_events_type_not_null NOT NULL,
    occurred_at timestamp with time zone CONSTRAINT ledger_events_occurred_at_not_null NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() CONSTRAINT ledger_events_recorded_at_not_null NOT NULL,
    body bytea CONSTRAINT ledger_events_body_not_null NOT NULL,
    leaf_hash bytea CONSTRAINT ledger_events_leaf_hash_not_null NOT NULL,
    submitted_by name,
    CONSTRAINT ledger_events_seq_check CHECK ((seq >= 0))
);

CREATE TABLE public.ledger_events_default_rest (
    origin text CONSTRAINT ledger_events_origin_not_null NOT NULL,
    seq bigint CONSTRAINT ledger_events_seq_not_null NOT NULL,
    event_id uuid CONSTRAINT ledger_events_event_id_not_null NOT NULL,
    run_id uuid CONSTRAINT ledger_events_run_id_not_null NOT NULL,
    run_seq bigint CONSTRAINT ledger_events_run_seq_not_null NOT NULL,
    type text CONSTRAINT ledger_events_type_not_null NOT NULL,
    occurred_at timestamp with time zone CONSTRAINT ledger_events_occurred_at_not_null NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() CONSTRAINT ledger_events_recorded_at_not_null NOT NULL,
    body bytea CONSTRAINT ledger_events_body_not_null NOT NULL,
    leaf_hash bytea CONSTRAINT ledger_events_leaf_hash_not_null NOT NULL,
    submitted_by name,
    CONSTRAINT ledger_events_seq_check CHECK ((seq >= 0))
);

CREATE TABLE public.ledger_intake (
    intake_id bigint NOT NULL,
    event_id uuid NOT NULL,
    origin text NOT NULL,
    run_id uuid NOT NULL,
    run_seq bigint NOT NULL,
    body bytea NOT NULL,
    received_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    submitted_by name DEFAULT SESSION_USER NOT NULL,
    held_at timestamp with time zone,
    CONSTRAINT ledger_intake_run_seq_check CHECK ((run_seq >= 0))
);

CREATE SEQUENCE public.ledger_intake_intake_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ledger_intake_intake_id_seq OWNED BY public.ledger_intake.intake_id;

CREATE TABLE public.ledger_live_changes (
    version bigint NOT NULL,
    origin text NOT NULL,
    kind text NOT NULL,
    event_id uuid NOT NULL,
    seq bigint NOT NULL,
    CONSTRAINT ledger_live_changes_kind_check CHECK ((kind = ANY (ARRAY['stop'::text, 'lift'::text, 'policy'::text])))
);

CREATE SEQUENCE public.ledger_live_changes_version_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ledger_live_changes_version_seq OWNED BY public.ledger_live_changes.version;

CREATE TABLE public.ledger_partitions (
    origin text NOT NULL,
    tenant text NOT NULL,
    own_partition boolean NOT NULL,
    suffix text NOT NULL,
    range_size bigint NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    detached jsonb DEFAULT '[]'::jsonb NOT NULL,
    detached_at timestamp with time zone,
    CONSTRAINT ledger_partitions_range_size_check CHECK ((range_size > 0))
);

CREATE TABLE public.ledger_payloads (
    commitment text NOT NULL,
    origin text NOT NULL,
    subject text NOT NULL,
    event_id uuid NOT NULL,
    path text NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    scheme text,
    public_key bytea,
    wrapped_key bytea,
    kek_id text,
    CONSTRAINT ledger_payloads_commitment_check CHECK ((commitment ~ '^sha256:[0-9a-f]{64}$'::text)),
    CONSTRAINT payload_envelope_shape CHECK ((((scheme IS NULL) AND (public_key IS NULL) AND (wrapped_key IS NULL) AND (kek_id IS NULL)) OR ((scheme = ANY (ARRAY['x25519-sealed'::text, 'pkcs11-rsa-oaep'::text])) AND (length(public_key) = 32) AND (wrapped_key IS NOT NULL) AND (kek_id IS NOT NULL))))
);

CREATE TABLE public.ledger_rejects (
    intake_id bigint NOT NULL,
    event_id uuid NOT NULL,
    origin text NOT NULL,
    body bytea NOT NULL,
    reason text NOT NULL,
    rejected_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE public.ledger_run_totals (
    origin text NOT NULL,
    run_id uuid NOT NULL,
    agent text DEFAULT ''::text NOT NULL,
    cost_usd numeric DEFAULT 0 NOT NULL,
    total_tokens bigint DEFAULT 0 NOT NULL,
    unknown_cost_calls bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.ledger_run_totals_seen (
    event_id uuid NOT NULL,
    run_id uuid NOT NULL
);

CREATE TABLE public.ledger_schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.ledger_sequencer_holders (
    holder text NOT NULL,
    tenants text[] DEFAULT '{}'::text[] NOT NULL,
    started_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    seen_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE public.ledger_sequencer_leases (
    origin text NOT NULL,
    holder text,
    expires_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    acquired_at timestamp with time zone,
    batches bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.ledger_sequencer_state (
    one boolean DEFAULT true NOT NULL,
    heartbeat_at timestamp with time zone,
    CONSTRAINT ledger_sequencer_state_one_check CHECK (one)
);

CREATE TABLE public.ledger_stops (
    stop_event_id uuid NOT NULL,
    origin text NOT NULL,
    target text NOT NULL,
    target_run_id uuid,
    requested_by text NOT NULL,
    reason text DEFAULT ''::text NOT NULL,
    authority text,
    recorded_at timestamp with time zone NOT NULL,
    stop_seq bigint NOT NULL,
    lifted_event_id uuid,
    lifted_by text,
    lifted_seq bigint,
    version bigint NOT NULL
);

CREATE TABLE public.ledger_subject_keys (
    origin text NOT NULL,
    subject text NOT NULL,
    key bytea,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    scheme text NOT NULL,
    public_key bytea,
    wrapped_key bytea,
    kek_id text,
    CONSTRAINT ledger_subject_keys_key_check CHECK ((length(key) = 32)),
    CONSTRAINT subject_key_shape CHECK (
CASE scheme
    WHEN 'legacy-secretbox'::text THEN ((key IS NOT NULL) AND (public_key IS NULL))
    WHEN 'x25519-sealed'::text THEN ((key IS NULL) AND (length(public_key) = 32) AND (wrapped_key IS NOT NULL) AND (kek_id IS NOT NULL))
    WHEN 'pkcs11-rsa-oaep'::text THEN ((key IS NULL) AND (length(public_key) = 32) AND (wrapped_key IS NOT NULL) AND (kek_id IS NOT NULL))
    ELSE false
END)
);

CREATE TABLE public.ledger_suspended_runs (
    run_id uuid NOT NULL,
    origin text NOT NULL,
    resume_key text,
    suspended_event_id uuid NOT NULL,
    suspended_seq bigint NOT NULL,
    recorded_at timestamp with time zone NOT NULL
);

CREATE TABLE public.ledger_tenant_roles (
    role_name name NOT NULL,
    tenant text NOT NULL
);

CREATE TABLE public.ledger_tiles (
    origin text NOT NULL,
    level smallint NOT NULL,
    idx bigint NOT NULL,
    hashes bytea NOT NULL,
    CONSTRAINT ledger_tiles_hashes_check CHECK ((((length(hashes) % 32) = 0) AND ((length(hashes) >= 32) AND (length(hashes) <= 8192)))),
    CONSTRAINT ledger_tiles_idx_check CHECK ((idx >= 0)),
    CONSTRAINT ledger_tiles_level_check CHECK ((level >= 0))
)
PARTITION BY LIST (origin);

CREATE TABLE public.ledger_tiles_default (
    origin text CONSTRAINT ledger_tiles_origin_not_null NOT NULL,
    level smallint CONSTRAINT ledger_tiles_level_not_null NOT NULL,
    idx bigint CONSTRAINT ledger_tiles_idx_not_null NOT NULL,
    hashes bytea CONSTRAINT ledger_tiles_hashes_not_null NOT NULL,
    CONSTRAINT ledger_tiles_hashes_check CHECK ((((length(hashes) % 32) = 0) AND ((length(hashes) >= 32) AND (length(hashes) <= 8192)))),
    CONSTRAINT ledger_tiles_idx_check CHECK ((idx >= 0)),
    CONSTRAINT ledger_tiles_level_check CHECK ((level >= 0))
);

CREATE TABLE public.ledger_trust_roots (
    origin_prefix text NOT NULL,
    vkey text NOT NULL,
    recorded_by name DEFAULT CURRENT_USER NOT NULL,
    recorded_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT ledger_trust_roots_vkey_check CHECK ((vkey <> ''::text))
);

CREATE TABLE public.ledger_verdicts (
    run_id uuid NOT NULL,
    policy_hash text NOT NULL,
    evaluator_version text NOT NULL,
    rule_id text NOT NULL,
    outcome text NOT NULL,
    explanation text NOT NULL,
    evidence uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    through_seq bigint,
    checked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ledger_verdicts_outcome_check CHECK ((outcome = ANY (ARRAY['pass'::text, 'fail'::text, 'unknown'::text]))),
    CONSTRAINT ledger_verdicts_policy_hash_check CHECK ((policy_hash ~ '^[0-9a-f]{64}$'::text))
);

CREATE TABLE public.ledger_writer_bindings (
    role_name name NOT NULL,
    tenant text NOT NULL,
    agent text
);

CREATE TABLE public.undo_approvals (
    plan_digest text NOT NULL,
    approver text NOT NULL,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    vkey text NOT NULL,
    signature bytea NOT NULL,
    approved_at timestamp with time zone DEFAULT now() NOT NULL,
    event_id uuid
);

CREATE TABLE public.undo_plans (
    plan_digest text NOT NULL,
    plan_id text NOT NULL,
    body bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    event_id uuid,
    CONSTRAINT undo_plans_plan_digest_check CHECK ((plan_digest ~ '^[0-9a-f]{64}$'::text))
);

CREATE TABLE public.undo_steps (
    idempotency_key text NOT NULL,
    plan_digest text NOT NULL,
    step_id text NOT NULL,
    target_action_id text NOT NULL,
    status text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    result jsonb,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT undo_steps_status_check CHECK ((status = ANY (ARRAY['running'::text, 'compensated'::text, 'compensation_failed'::text, 'needs_operator'::text, 'contained'::text])))
);

ALTER TABLE ONLY public.ledger_checkpoints ATTACH PARTITION public.ledger_checkpoints_default DEFAULT;

ALTER TABLE ONLY public.ledger_cosigned ATTACH PARTITION public.ledger_cosigned_default DEFAULT;

ALTER TABLE ONLY public.ledger_events ATTACH PARTITION public.ledger_events_default DEFAULT;

ALTER TABLE ONLY public.ledger_events_default ATTACH PARTITION public.ledger_events_default_r0 FOR VALUES FROM ('0') TO ('1048576');

ALTER TABLE ONLY public.ledger_events_default ATTACH PARTITION public.ledger_events_default_r1 FOR VALUES FROM ('1048576') TO ('2097152');

ALTER TABLE ONLY public.ledger_events_default ATTACH PARTITION public.ledger_events_default_rest DEFAULT;

ALTER TABLE ONLY public.ledger_tiles ATTACH PARTITION public.ledger_tiles_default DEFAULT;

ALTER TABLE ONLY public.ledger_intake ALTER COLUMN intake_id SET DEFAULT nextval('public.ledger_intake_intake_id_seq'::regclass);

ALTER TABLE ONLY public.ledger_live_changes ALTER COLUMN version SET DEFAULT nextval('public.ledger_live_changes_version_seq'::regclass);

ALTER TABLE public.ledger_intake
    ADD CONSTRAINT intake_body_size CHECK ((octet_length(body) <= 1048576)) NOT VALID;

ALTER TABLE ONLY public.ledger_checkpoints
    ADD CONSTRAINT ledger_checkpoints_pkey PRIMARY KEY (origin, tree_size);

ALTER TABLE ONLY public.ledger_checkpoints_default
    ADD CONSTRAINT ledger_checkpoints_default_pkey PRIMARY KEY (origin, tree_size);

ALTER TABLE ONLY public.ledger_cosigned
    ADD CONSTRAINT ledger_cosigned_pkey PRIMARY KEY (origin, tree_size);

ALTER TABLE ONLY public.ledger_cosigned_default
    ADD CONSTRAINT ledger_cosigned_default_pkey PRIMARY KEY (origin, tree_size);

ALTER TABLE ONLY public.ledger_event_keys
    ADD CONSTRAINT ledger_event_keys_pkey PRIMARY KEY (event_id);

ALTER TABLE ONLY public.ledger_event_keys
    ADD CONSTRAINT ledger_event_keys_run UNIQUE (run_id, run_seq);

ALTER TABLE ONLY public.ledger_events
    ADD CONSTRAINT ledger_events_pkey PRIMARY KEY (origin, seq);

ALTER TABLE ONLY public.ledger_events_default
    ADD CONSTRAINT ledger_events_default_pkey PRIMARY KEY (origin, seq);

ALTER TABLE ONLY public.ledger_events_default_r0
    ADD CONSTRAINT ledger_events_default_r0_pkey PRIMARY KEY (origin, seq);

ALTER TABLE ONLY public.ledger_events_default_r1
    ADD CONSTRAINT ledger_events_default_r1_pkey PRIMARY KEY (origin, seq);

ALTER TABLE ONLY public.ledger_events_default_rest
    ADD CONSTRAINT ledger_events_default_rest_pkey PRIMARY KEY (origin, seq);

ALTER TABLE ONLY public.ledger_intake
    ADD CONSTRAINT ledger_intake_event_id_key UNIQUE (event_id);

ALTER TABLE ONLY public.ledger_intake
    ADD CONSTRAINT ledger_intake_pkey PRIMARY KEY (intake_id);

ALTER TABLE ONLY public.ledger_live_changes
    ADD CONSTRAINT ledger_live_changes_event_id_key UNIQUE (event_id);

ALTER TABLE ONLY public.ledger_live_changes
    ADD CONSTRAINT ledger_live_changes_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.ledger_partitions
    ADD CONSTRAINT ledger_partitions_pkey PRIMARY KEY (origin);

ALTER TABLE ONLY public.ledger_payloads
    ADD CONSTRAINT ledger_payloads_pkey PRIMARY KEY (commitment);

ALTER TABLE ONLY public.ledger_run_totals
    ADD CONSTRAINT ledger_run_totals_pkey PRIMARY KEY (origin, run_id, agent);

ALTER TABLE ONLY public.ledger_run_totals_seen
    ADD CONSTRAINT ledger_run_totals_seen_pkey PRIMARY KEY (event_id);

ALTER TABLE ONLY public.ledger_schema_migrations
    ADD CONSTRAINT ledger_schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.ledger_sequencer_holders
    ADD CONSTRAINT ledger_sequencer_holders_pkey PRIMARY KEY (holder);

ALTER TABLE ONLY public.ledger_sequencer_leases
    ADD CONSTRAINT ledger_sequencer_leases_pkey PRIMARY KEY (origin);

ALTER TABLE ONLY public.ledger_sequencer_state
    ADD CONSTRAINT ledger_sequencer_state_pkey PRIMARY KEY (one);

ALTER TABLE ONLY public.ledger_stops
    ADD CONSTRAINT ledger_stops_pkey PRIMARY KEY (stop_event_id);

ALTER TABLE ONLY public.ledger_subject_keys
    ADD CONSTRAINT ledger_subject_keys_pkey PRIMARY KEY (origin, subject);

ALTER TABLE ONLY public.ledger_suspended_runs
    ADD CONSTRAINT ledger_suspended_runs_pkey PRIMARY KEY (run_id);

ALTER TABLE ONLY public.ledger_tenant_roles
    ADD CONSTRAINT ledger_tenant_roles_pkey PRIMARY KEY (role_name, tenant);

ALTER TABLE ONLY public.ledger_tiles
    ADD CONSTRAINT ledger_tiles_pkey PRIMARY KEY (origin, level, idx);

ALTER TABLE ONLY public.ledger_tiles_default
    ADD CONSTRAINT ledger_tiles_default_pkey PRIMARY KEY (origin, level, idx);

ALTER TABLE ONLY public.ledger_trust_roots
    ADD CONSTRAINT ledger_trust_roots_pkey PRIMARY KEY (origin_prefix);

ALTER TABLE ONLY public.ledger_verdicts
    ADD CONSTRAINT ledger_verdicts_pkey PRIMARY KEY (run_id, policy_hash, evaluator_version, rule_id);

ALTER TABLE ONLY public.ledger_writer_bindings
    ADD CONSTRAINT ledger_writer_bindings_pkey PRIMARY KEY (role_name);

ALTER TABLE public.ledger_subject_keys
    ADD CONSTRAINT subject_key_wrapped CHECK ((scheme <> 'legacy-secretbox'::text)) NOT VALID;

ALTER TABLE ONLY public.undo_approvals
    ADD CONSTRAINT undo_approvals_pkey PRIMARY KEY (plan_digest, approver);

ALTER TABLE ONLY public.undo_plans
    ADD CONSTRAINT undo_plans_pkey PRIMARY KEY (plan_digest);

ALTER TABLE ONLY public.undo_steps
    ADD CONSTRAINT undo_steps_pkey PRIMARY KEY (idempotency_key);

CREATE INDEX ledger_events_call_errors ON ONLY public.ledger_events USING btree (run_id, public.ledger_decided_call(body)) WHERE ((type = 'tool.call.ended'::text) AND public.ledger_call_errored(body));

CREATE INDEX ledger_events_decided_call ON ONLY public.ledger_events USING btree (origin, public.ledger_decided_call(body)) WHERE (type = 'approval.decided'::text);

CREATE INDEX ledger_events_event_id ON ONLY public.ledger_events USING btree (event_id);

CREATE INDEX ledger_events_default_event_id_idx ON ONLY public.ledger_events_default USING btree (event_id);

CREATE INDEX ledger_events_published_policy ON ONLY public.ledger_events USING btree (public.ledger_published_policy(body), seq) WHERE (type = 'policy.published'::text);

CREATE INDEX ledger_events_default_ledger_published_policy_seq_idx ON ONLY public.ledger_events_default USING btree (public.ledger_published_policy(body), seq) WHERE (type = 'policy.published'::text);

CREATE INDEX ledger_events_run_first ON ONLY public.ledger_events USING btree (occurred_at, seq) WHERE (run_seq = 0);

CREATE INDEX ledger_events_default_occurred_at_seq_idx ON ONLY public.ledger_events_default USING btree (occurred_at, seq) WHERE (run_seq = 0);

CREATE INDEX ledger_events_default_origin_ledger_decided_call_idx ON ONLY public.ledger_events_default USING btree (origin, public.ledger_decided_call(body)) WHERE (type = 'approval.decided'::text);

CREATE INDEX ledger_events_occurred ON ONLY public.ledger_events USING btree (origin, occurred_at);

CREATE INDEX ledger_events_default_origin_occurred_at_idx ON ONLY public.ledger_events_default USING btree (origin, occurred_at);

CREATE INDEX ledger_events_tool_args_schema ON ONLY public.ledger_events USING btree (origin, seq) WHERE ((type = 'tool.call.started'::text) AND (POSITION(('\x22617267735f736368656d61223a'::bytea) IN (body)) > 0));

CREATE INDEX ledger_events_default_origin_seq_idx ON ONLY public.ledger_events_default USING btree (origin, seq) WHERE ((type = 'tool.call.started'::text) AND (POSITION(('\x22617267735f736368656d61223a'::bytea) IN (body)) > 0));

CREATE INDEX ledger_events_type ON ONLY public.ledger_events USING btree (origin, type, seq);

CREATE INDEX ledger_events_default_origin_type_seq_idx ON ONLY public.ledger_events_default USING btree (origin, type, seq);

CREATE INDEX ledger_events_default_r0_event_id_idx ON public.ledger_events_default_r0 USING btree (event_id);

CREATE INDEX ledger_events_default_r0_ledger_published_policy_seq_idx ON public.ledger_events_default_r0 USING btree (public.ledger_published_policy(body), seq) WHERE (type = 'policy.published'::text);

CREATE INDEX ledger_events_default_r0_occurred_at_seq_idx ON public.ledger_events_default_r0 USING btree (occurred_at, seq) WHERE (run_seq = 0);

CREATE INDEX ledger_events_default_r0_origin_ledger_decided_call_idx ON public.ledger_events_default_r0 USING btree (origin, public.ledger_decided_call(body)) WHERE (type = 'approval.decided'::text);

CREATE INDEX ledger_events_default_r0_origin_occurred_at_idx ON public.ledger_events_default_r0 USING btree (origin, occurred_at);

CREATE INDEX ledger_events_default_r0_origin_seq_idx ON public.ledger_events_default_r0 USING btree (origin, seq) WHERE ((type = 'tool.call.started'::text) AND (POSITION(('\x22617267735f736368656d61223a'::bytea) IN (body)) > 0));

CREATE INDEX ledger_events_default_r0_origin_type_seq_idx ON public.ledger_events_default_r0 USING btree (origin, type, seq);

CREATE INDEX ledger_events_escalations ON ONLY public.ledger_events USING btree (run_id) WHERE (type = ANY (ARRAY['approval.requested'::text, 'policy.decided'::text]));

CREATE INDEX ledger_events_default_run_id_idx ON ONLY public.ledger_events_default USING btree (run_id) WHERE (type = ANY (ARRAY['approval.requested'::text, 'policy.decided'::text]));

CREATE INDEX ledger_events_default_r0_run_id_idx ON public.ledger_events_default_r0 USING btree (run_id) WHERE (type = ANY (ARRAY['approval.requested'::text, 'policy.decided'::text]));

CREATE INDEX ledger_events_default_run_id_ledger_decided_call_idx ON ONLY public.ledger_events_default USING btree (run_id, public.ledger_decided_call(body)) WHERE ((type = 'tool.call.ended'::text) AND public.ledger_call_errored(body));

CREATE INDEX ledger_events_default_r0_run_id_ledger_decided_call_idx ON public.ledger_events_default_r0 USING btree (run_id, public.ledger_decided_call(body)) WHERE ((type = 'tool.call.ended'::text) AND public.ledger_call_errored(body));

CREATE INDEX ledger_events_run ON ONLY public.ledger_events USING btree (run_id, run_seq);

CREATE INDEX ledger_events_default_run_id_run_seq_idx ON ONLY public.ledger_events_default USING btree (run_id, run_seq);

CREATE INDEX ledger_events_default_r0_run_id_run_seq_idx ON public.ledger_events_default_r0 USING btree (run_id, run_seq);

CREATE INDEX ledger_events_run_ended ON ONLY public.ledger_events USING btree (run_id, run_seq) WHERE (type = 'run.ended'::text);

CREATE INDEX ledger_events_default_run_id_run_seq_idx1 ON ONLY public.ledger_events_default USING btree (run_id, run_seq) WHERE (type = 'run.ended'::text);

CREATE INDEX ledger_events_default_r0_run_id_run_seq_idx1 ON public.ledger_events_default_r0 USING btree (run_id, run_seq) WHERE (type = 'run.ended'::text);

CREATE INDEX ledger_events_default_r1_event_id_idx ON public.ledger_events_default_r1 USING btree (event_id);

CREATE INDEX ledger_events_default_r1_ledger_published_policy_seq_idx ON public.ledger_events_default_r1 USING btree (public.ledger_published_policy(body), seq) WHERE (type = 'policy.published'::text);

CREATE INDEX ledger_events_default_r1_occurred_at_seq_idx ON public.ledger_events_default_r1 USING btree (occurred_at, seq) WHERE (run_seq = 0);

CREATE INDEX ledger_events_default_r1_origin_ledger_decided_call_idx ON public.ledger_events_default_r1 USING btree (origin, public.ledger_decided_call(body)) WHERE (type = 'approval.decided'::text);

CREATE INDEX ledger_events_default_r1_origin_occurred_at_idx ON public.ledger_events_default_r1 USING btree (origin, occurred_at);

CREATE INDEX ledger_events_default_r1_origin_seq_idx ON public.ledger_events_default_r1 USING btree (origin, seq) WHERE ((type = 'tool.call.started'::text) AND (POSITION(('\x22617267735f736368656d61223a'::bytea) IN (body)) > 0));

CREATE INDEX ledger_events_default_r1_origin_type_seq_idx ON public.ledger_events_default_r1 USING btree (origin, type, seq);

CREATE INDEX ledger_events_default_r1_run_id_idx ON public.ledger_events_default_r1 USING btree (run_id) WHERE (type = ANY (ARRAY['approval.requested'::text, 'policy.decided'::text]));

CREATE INDEX ledger_events_default_r1_run_id_ledger_decided_call_idx ON public.ledger_events_default_r1 USING btree (run_id, public.ledger_decided_call(body)) WHERE ((type = 'tool.call.ended'::text) AND public.ledger_call_errored(body));

CREATE INDEX ledger_events_default_r1_run_id_run_seq_idx ON public.ledger_events_default_r1 USING btree (run_id, run_seq);

CREATE INDEX ledger_events_default_r1_run_id_run_seq_idx1 ON public.ledger_events_default_r1 USING btree (run_id, run_seq) WHERE (type = 'run.ended'::text);

CREATE INDEX ledger_events_default_rest_event_id_idx ON public.ledger_events_default_rest USING btree (event_id);

CREATE INDEX ledger_events_default_rest_ledger_published_policy_seq_idx ON public.ledger_events_default_rest USING btree (public.ledger_published_policy(body), seq) WHERE (type = 'policy.published'::text);

CREATE INDEX ledger_events_default_rest_occurred_at_seq_idx ON public.ledger_events_default_rest USING btree (occurred_at, seq) WHERE (run_seq = 0);

CREATE INDEX ledger_events_default_rest_origin_ledger_decided_call_idx ON public.ledger_events_default_rest USING btree (origin, public.ledger_decided_call(body)) WHERE (type = 'approval.decided'::text);

CREATE INDEX ledger_events_default_rest_origin_occurred_at_idx ON public.ledger_events_default_rest USING btree (origin, occurred_at);

CREATE INDEX ledger_events_default_rest_origin_seq_idx ON public.ledger_events_default_rest USING btree (origin, seq) WHERE ((type = 'tool.call.started'::text) AND (POSITION(('\x22617267735f736368656d61223a'::bytea) IN (body)) > 0));

CREATE INDEX ledger_events_default_rest_origin_type_seq_idx ON public.ledger_events_default_rest USING btree (origin, type, seq);

CREATE INDEX ledger_events_default_rest_run_id_idx ON public.ledger_events_default_rest USING btree (run_id) WHERE (type = ANY (ARRAY['approval.requested'::text, 'policy.decided'::text]));

CREATE INDEX ledger_events_default_rest_run_id_ledger_decided_call_idx ON public.ledger_events_default_rest USING btree (run_id, public.ledger_decided_call(body)) WHERE ((type = 'tool.call.ended'::text) AND public.ledger_call_errored(body));

CREATE INDEX ledger_events_default_rest_run_id_run_seq_idx ON public.ledger_events_default_rest USING btree (run_id, run_seq);

CREATE INDEX ledger_events_default_rest_run_id_run_seq_idx1 ON public.ledger_events_default_rest USING btree (run_id, run_seq) WHERE (type = 'run.ended'::text);

CREATE INDEX ledger_intake_fresh ON public.ledger_intake USING btree (intake_id) WHERE (held_at IS NULL);

CREATE INDEX ledger_intake_held ON public.ledger_intake USING btree (held_at, intake_id) WHERE (held_at IS NOT NULL);

CREATE INDEX ledger_intake_held_run ON public.ledger_intake USING btree (run_id) WHERE (held_at IS NOT NULL);

CREATE INDEX ledger_intake_origin_fresh ON public.ledger_intake USING btree (origin, intake_id) WHERE (held_at IS NULL);

CREATE INDEX ledger_intake_origin_held ON public.ledger_intake USING btree (origin, held_at, intake_id) WHERE (held_at IS NOT NULL);

CREATE INDEX ledger_live_changes_policy ON public.ledger_live_changes USING btree (version) WHERE (kind = 'policy'::text);

CREATE INDEX ledger_payloads_subject ON public.ledger_payloads USING btree (origin, subject);

CREATE INDEX ledger_run_totals_run ON public.ledger_run_totals USING btree (run_id);

CREATE INDEX ledger_run_totals_seen_run ON public.ledger_run_totals_seen USING btree (run_id);

CREATE INDEX ledger_stops_active ON public.ledger_stops USING btree (origin, target) WHERE (lifted_event_id IS NULL);

CREATE INDEX ledger_stops_version ON public.ledger_stops USING btree (version);

CREATE INDEX ledger_suspended_runs_idle ON public.ledger_suspended_runs USING btree (recorded_at);

CREATE INDEX ledger_suspended_runs_key ON public.ledger_suspended_runs USING btree (origin, resume_key, suspended_seq);

CREATE INDEX ledger_verdicts_failing ON public.ledger_verdicts USING btree (policy_hash, outcome) WHERE (outcome <> 'pass'::text);

CREATE INDEX undo_steps_plan ON public.undo_steps USING btree (plan_digest);

ALTER INDEX public.ledger_checkpoints_pkey ATTACH PARTITION public.ledger_checkpoints_default_pkey;

ALTER INDEX public.ledger_cosigned_pkey ATTACH PARTITION public.ledger_cosigned_default_pkey;

ALTER INDEX public.ledger_events_event_id ATTACH PARTITION public.ledger_events_default_event_id_idx;

ALTER INDEX public.ledger_events_published_policy ATTACH PARTITION public.ledger_events_default_ledger_published_policy_seq_idx;

ALTER INDEX public.ledger_events_run_first ATTACH PARTITION public.ledger_events_default_occurred_at_seq_idx;

ALTER INDEX public.ledger_events_decided_call ATTACH PARTITION public.ledger_events_default_origin_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_occurred ATTACH PARTITION public.ledger_events_default_origin_occurred_at_idx;

ALTER INDEX public.ledger_events_tool_args_schema ATTACH PARTITION public.ledger_events_default_origin_seq_idx;

ALTER INDEX public.ledger_events_type ATTACH PARTITION public.ledger_events_default_origin_type_seq_idx;

ALTER INDEX public.ledger_events_pkey ATTACH PARTITION public.ledger_events_default_pkey;

ALTER INDEX public.ledger_events_default_event_id_idx ATTACH PARTITION public.ledger_events_default_r0_event_id_idx;

ALTER INDEX public.ledger_events_default_ledger_published_policy_seq_idx ATTACH PARTITION public.ledger_events_default_r0_ledger_published_policy_seq_idx;

ALTER INDEX public.ledger_events_default_occurred_at_seq_idx ATTACH PARTITION public.ledger_events_default_r0_occurred_at_seq_idx;

ALTER INDEX public.ledger_events_default_origin_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_r0_origin_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_origin_occurred_at_idx ATTACH PARTITION public.ledger_events_default_r0_origin_occurred_at_idx;

ALTER INDEX public.ledger_events_default_origin_seq_idx ATTACH PARTITION public.ledger_events_default_r0_origin_seq_idx;

ALTER INDEX public.ledger_events_default_origin_type_seq_idx ATTACH PARTITION public.ledger_events_default_r0_origin_type_seq_idx;

ALTER INDEX public.ledger_events_default_pkey ATTACH PARTITION public.ledger_events_default_r0_pkey;

ALTER INDEX public.ledger_events_default_run_id_idx ATTACH PARTITION public.ledger_events_default_r0_run_id_idx;

ALTER INDEX public.ledger_events_default_run_id_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_r0_run_id_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx ATTACH PARTITION public.ledger_events_default_r0_run_id_run_seq_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx1 ATTACH PARTITION public.ledger_events_default_r0_run_id_run_seq_idx1;

ALTER INDEX public.ledger_events_default_event_id_idx ATTACH PARTITION public.ledger_events_default_r1_event_id_idx;

ALTER INDEX public.ledger_events_default_ledger_published_policy_seq_idx ATTACH PARTITION public.ledger_events_default_r1_ledger_published_policy_seq_idx;

ALTER INDEX public.ledger_events_default_occurred_at_seq_idx ATTACH PARTITION public.ledger_events_default_r1_occurred_at_seq_idx;

ALTER INDEX public.ledger_events_default_origin_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_r1_origin_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_origin_occurred_at_idx ATTACH PARTITION public.ledger_events_default_r1_origin_occurred_at_idx;

ALTER INDEX public.ledger_events_default_origin_seq_idx ATTACH PARTITION public.ledger_events_default_r1_origin_seq_idx;

ALTER INDEX public.ledger_events_default_origin_type_seq_idx ATTACH PARTITION public.ledger_events_default_r1_origin_type_seq_idx;

ALTER INDEX public.ledger_events_default_pkey ATTACH PARTITION public.ledger_events_default_r1_pkey;

ALTER INDEX public.ledger_events_default_run_id_idx ATTACH PARTITION public.ledger_events_default_r1_run_id_idx;

ALTER INDEX public.ledger_events_default_run_id_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_r1_run_id_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx ATTACH PARTITION public.ledger_events_default_r1_run_id_run_seq_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx1 ATTACH PARTITION public.ledger_events_default_r1_run_id_run_seq_idx1;

ALTER INDEX public.ledger_events_default_event_id_idx ATTACH PARTITION public.ledger_events_default_rest_event_id_idx;

ALTER INDEX public.ledger_events_default_ledger_published_policy_seq_idx ATTACH PARTITION public.ledger_events_default_rest_ledger_published_policy_seq_idx;

ALTER INDEX public.ledger_events_default_occurred_at_seq_idx ATTACH PARTITION public.ledger_events_default_rest_occurred_at_seq_idx;

ALTER INDEX public.ledger_events_default_origin_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_rest_origin_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_origin_occurred_at_idx ATTACH PARTITION public.ledger_events_default_rest_origin_occurred_at_idx;

ALTER INDEX public.ledger_events_default_origin_seq_idx ATTACH PARTITION public.ledger_events_default_rest_origin_seq_idx;

ALTER INDEX public.ledger_events_default_origin_type_seq_idx ATTACH PARTITION public.ledger_events_default_rest_origin_type_seq_idx;

ALTER INDEX public.ledger_events_default_pkey ATTACH PARTITION public.ledger_events_default_rest_pkey;

ALTER INDEX public.ledger_events_default_run_id_idx ATTACH PARTITION public.ledger_events_default_rest_run_id_idx;

ALTER INDEX public.ledger_events_default_run_id_ledger_decided_call_idx ATTACH PARTITION public.ledger_events_default_rest_run_id_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx ATTACH PARTITION public.ledger_events_default_rest_run_id_run_seq_idx;

ALTER INDEX public.ledger_events_default_run_id_run_seq_idx1 ATTACH PARTITION public.ledger_events_default_rest_run_id_run_seq_idx1;

ALTER INDEX public.ledger_events_escalations ATTACH PARTITION public.ledger_events_default_run_id_idx;

ALTER INDEX public.ledger_events_call_errors ATTACH PARTITION public.ledger_events_default_run_id_ledger_decided_call_idx;

ALTER INDEX public.ledger_events_run ATTACH PARTITION public.ledger_events_default_run_id_run_seq_idx;

ALTER INDEX public.ledger_events_run_ended ATTACH PARTITION public.ledger_events_default_run_id_run_seq_idx1;

ALTER INDEX public.ledger_tiles_pkey ATTACH PARTITION public.ledger_tiles_default_pkey;

CREATE STATISTICS public.ledger_events_run_first_stats (mcv) ON run_seq, type FROM public.ledger_events;

CREATE TRIGGER ledger_checkpoints_append_only BEFORE DELETE OR UPDATE ON public.ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_checkpoints_default_no_truncate BEFORE TRUNCATE ON public.ledger_checkpoints_default FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON public.ledger_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_event_keys_append_only BEFORE DELETE OR UPDATE ON public.ledger_event_keys FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_event_keys_no_truncate BEFORE TRUNCATE ON public.ledger_event_keys FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_append_only BEFORE DELETE OR UPDATE ON public.ledger_events FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_default_no_truncate BEFORE TRUNCATE ON public.ledger_events_default FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_default_r0_no_truncate BEFORE TRUNCATE ON public.ledger_events_default_r0 FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_default_r1_no_truncate BEFORE TRUNCATE ON public.ledger_events_default_r1 FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_default_rest_no_truncate BEFORE TRUNCATE ON public.ledger_events_default_rest FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON public.ledger_events FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_trust_roots_append_only BEFORE DELETE OR UPDATE ON public.ledger_trust_roots FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();

CREATE TRIGGER ledger_trust_roots_no_truncate BEFORE TRUNCATE ON public.ledger_trust_roots FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

ALTER TABLE ONLY public.undo_approvals
    ADD CONSTRAINT undo_approvals_plan_digest_fkey FOREIGN KEY (plan_digest) REFERENCES public.undo_plans(plan_digest);

ALTER TABLE ONLY public.undo_steps
    ADD CONSTRAINT undo_steps_plan_digest_fkey FOREIGN KEY (plan_digest) REFERENCES public.undo_plans(plan_digest);

ALTER TABLE public.ledger_checkpoints ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_checkpoints_default ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_cosigned ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_cosigned_default ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_event_keys ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_events_default ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_events_default_r0 ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_events_default_r1 ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_events_default_rest ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_intake ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_payloads ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_rejects ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_tiles ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ledger_tiles_default ENABLE ROW LEVEL SECURITY;

CREATE POLICY service_all ON public.ledger_checkpoints TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_cosigned TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_event_keys TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_events TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_intake TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_payloads TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_rejects TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY service_all ON public.ledger_tiles TO ledger_sequencer USING (true) WITH CHECK (true);

CREATE POLICY tenant_read ON public.ledger_checkpoints FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY tenant_read ON public.ledger_cosigned FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY tenant_read ON public.ledger_events FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY tenant_read ON public.ledger_payloads FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY tenant_read ON public.ledger_rejects FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY tenant_read ON public.ledger_tiles FOR SELECT TO ledger_reader USING (public.ledger_visible_origin(origin, CURRENT_USER));

CREATE POLICY writer_commitments ON public.ledger_payloads FOR SELECT TO ledger_writer USING (public.ledger_writer_may_write(origin, NULL::bytea));

CREATE POLICY writer_insert ON public.ledger_intake FOR INSERT TO ledger_writer WITH CHECK (public.ledger_writer_may_write(origin, body));

CREATE POLICY writer_insert ON public.ledger_payloads FOR INSERT TO ledger_writer WITH CHECK (public.ledger_writer_may_write(origin, NULL::bytea));

CREATE POLICY writer_own ON public.ledger_intake FOR SELECT TO ledger_writer USING ((submitted_by = SESSION_USER));

REVOKE ALL ON FUNCTION public.ledger_api_visible(o text, body bytea) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_body_agent(body bytea) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_body_json(p_body bytea) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_call_approvals(p_origin text, p_run uuid, p_tool text, p_args_hash text) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_create_ranges(parent text, size bigint, upto bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_detach_range(p_origin text, lo bigint, hi bigint, p_drop boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_detach_tenant(p_origin text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_ensure_ranges(p_origin text, p_upto bigint, OUT hi bigint, OUT range_size bigint, OUT created integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_ensure_ranges(p_origin text, p_upto bigint, OUT hi bigint, OUT range_size bigint, OUT created integer) TO ledger_sequencer;

REVOKE ALL ON FUNCTION public.ledger_keep_append_only(part text, root text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_live_version() FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_live_version() TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_live_version() TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_live_version() TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_live_version() TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_logged_ids(ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_logged_ids(ids uuid[]) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_logged_ids(ids uuid[]) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_logged_ids(ids uuid[]) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_logged_ids(ids uuid[]) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_own_partition(p_origin text, p_tenant text, p_size bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_partition_guard(part text, root text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_policies_since(p_origins text[], p_since bigint) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_receipts(ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_receipts(ids uuid[]) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_receipts(ids uuid[]) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_receipts(ids uuid[]) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_receipts(ids uuid[]) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_registries(o text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_registries(o text) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_registries(o text) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_registries(o text) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_registries(o text) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_reject_reasons(ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_reject_reasons(ids uuid[]) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_reject_reasons(ids uuid[]) TO ledger_reader;

REVOKE ALL ON FUNCTION public.ledger_run_approvals(p_run uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_approvals(p_run uuid) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_approvals(p_run uuid) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_approvals(p_run uuid) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_approvals(p_run uuid) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_attempts(p_run uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_attempts(p_run uuid) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_attempts(p_run uuid) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_attempts(p_run uuid) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_attempts(p_run uuid) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_head(run uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_head(run uuid) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_head(run uuid) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_head(run uuid) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_head(run uuid) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_newest(p_origin text, p_run uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_run_resume_point(p_run uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_resume_point(p_run uuid) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_resume_point(p_run uuid) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_resume_point(p_run uuid) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_resume_point(p_run uuid) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_seq_holder(p_run uuid, p_seq bigint) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_totals_add(p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[], p_unknown bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_totals_add(p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[], p_unknown bigint[]) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_totals_add(p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[], p_unknown bigint[]) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_totals_add(p_ids uuid[], p_origins text[], p_runs uuid[], p_cost numeric[], p_tokens bigint[], p_unknown bigint[]) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_totals_of(p_run uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_run_totals_of(p_run uuid) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_run_totals_of(p_run uuid) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_run_totals_of(p_run uuid) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_run_totals_of(p_run uuid) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_run_totals_visible(o text, agent text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_stops_since(p_origins text[], p_since bigint) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_subject_public_key(o text, subj text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_subject_public_key(o text, subj text) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_subject_public_key(o text, subj text) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_subject_public_key(o text, subj text) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_subject_public_key(o text, subj text) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_suspended_run(p_origin text, p_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_suspended_run(p_origin text, p_key text) TO ledger_writer;
GRANT ALL ON FUNCTION public.ledger_suspended_run(p_origin text, p_key text) TO ledger_sequencer;
GRANT ALL ON FUNCTION public.ledger_suspended_run(p_origin text, p_key text) TO ledger_reader;
GRANT ALL ON FUNCTION public.ledger_suspended_run(p_origin text, p_key text) TO ledger_operator;

REVOKE ALL ON FUNCTION public.ledger_visible_origin(o text, r name) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_visible_origin(o text, r name) TO ledger_reader;

REVOKE ALL ON FUNCTION public.ledger_writer_may_write(o text, body bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION public.ledger_writer_may_write(o text, body bytea) TO ledger_writer;

GRANT SELECT,INSERT ON TABLE public.ledger_checkpoints TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_checkpoints TO ledger_reader;

GRANT SELECT,INSERT ON TABLE public.ledger_cosigned TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_cosigned TO ledger_reader;

GRANT SELECT,INSERT ON TABLE public.ledger_event_keys TO ledger_sequencer;

GRANT SELECT,INSERT ON TABLE public.ledger_events TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_events TO ledger_reader;

GRANT SELECT,DELETE ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT SELECT(event_id),INSERT(event_id) ON TABLE public.ledger_intake TO ledger_writer;
GRANT INSERT(event_id) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT INSERT(origin) ON TABLE public.ledger_intake TO ledger_writer;
GRANT INSERT(origin) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT INSERT(run_id) ON TABLE public.ledger_intake TO ledger_writer;
GRANT INSERT(run_id) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT INSERT(run_seq) ON TABLE public.ledger_intake TO ledger_writer;
GRANT INSERT(run_seq) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT INSERT(body) ON TABLE public.ledger_intake TO ledger_writer;
GRANT INSERT(body) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT UPDATE(held_at) ON TABLE public.ledger_intake TO ledger_sequencer;

GRANT USAGE ON SEQUENCE public.ledger_intake_intake_id_seq TO ledger_writer;
GRANT USAGE ON SEQUENCE public.ledger_intake_intake_id_seq TO ledger_sequencer;

GRANT SELECT,INSERT,UPDATE ON TABLE public.ledger_live_changes TO ledger_sequencer;

GRANT USAGE ON SEQUENCE public.ledger_live_changes_version_seq TO ledger_sequencer;

GRANT SELECT ON TABLE public.ledger_partitions TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_partitions TO ledger_operator;

GRANT SELECT ON TABLE public.ledger_payloads TO ledger_reader;

GRANT SELECT(commitment),INSERT(commitment) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(origin) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(subject) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(event_id) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(path) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(ciphertext) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(scheme) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(public_key) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(wrapped_key) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT INSERT(kek_id) ON TABLE public.ledger_payloads TO ledger_writer;

GRANT SELECT,INSERT ON TABLE public.ledger_rejects TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_rejects TO ledger_reader;

GRANT SELECT ON TABLE public.ledger_run_totals TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_run_totals TO ledger_operator;

GRANT SELECT ON TABLE public.ledger_schema_migrations TO ledger_writer;
GRANT SELECT ON TABLE public.ledger_schema_migrations TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_schema_migrations TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_schema_migrations TO ledger_operator;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ledger_sequencer_holders TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_sequencer_holders TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_sequencer_holders TO ledger_operator;

GRANT SELECT,INSERT,UPDATE ON TABLE public.ledger_sequencer_leases TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_sequencer_leases TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_sequencer_leases TO ledger_operator;

GRANT SELECT,UPDATE ON TABLE public.ledger_sequencer_state TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_sequencer_state TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_sequencer_state TO ledger_operator;

GRANT SELECT,INSERT,UPDATE ON TABLE public.ledger_stops TO ledger_sequencer;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ledger_suspended_runs TO ledger_sequencer;

GRANT SELECT,INSERT,UPDATE ON TABLE public.ledger_tiles TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_tiles TO ledger_reader;

GRANT SELECT ON TABLE public.ledger_trust_roots TO ledger_sequencer;
GRANT SELECT ON TABLE public.ledger_trust_roots TO ledger_reader;
GRANT SELECT ON TABLE public.ledger_trust_roots TO ledger_operator;

GRANT INSERT(origin_prefix) ON TABLE public.ledger_trust_roots TO ledger_sequencer;

GRANT INSERT(vkey) ON TABLE public.ledger_trust_roots TO ledger_sequencer;
