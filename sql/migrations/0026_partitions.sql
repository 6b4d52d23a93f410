-- Partitioned storage (issue 20 item 1, docs/partitions.md). The four tables that grow with the
-- log (events, tiles, checkpoints, cosignatures) become `PARTITION BY LIST (origin)` tables with
-- a DEFAULT partition; `ledger tenants add T --own-partition` gives a tenant a list partition of
-- its own in each. Events partitions are sub-partitioned `BY RANGE (seq)` in fixed-size ranges
-- (per partition, in `ledger_partitions`) so old ranges can be archived by DETACH while DELETE
-- stays refused. Existing rows move in place (INSERT ... SELECT from the renamed table).
--
-- A partitioned table cannot enforce uniqueness without its partition key, so global uniqueness
-- of event_id and (run_id, run_seq) moves to the guard table `ledger_event_keys`, filled by the
-- sequencer in the batch transaction; the old unique indexes stay as plain indexes so every
-- query plan keeps working. Append-only triggers: row triggers are cloned to partitions by
-- PostgreSQL, TRUNCATE statement triggers are not, so every partition gets its own (here and in
-- ledger_partition_guard, which every function that makes a partition calls). Writers have no
-- privilege on any partition: they reach rows only through the parent, its RLS and its grants.

-- The catalog: one row per partition layout. origin '' is the DEFAULT partition (every origin
-- without a partition of its own, whose ranges all those origins share).
CREATE TABLE ledger_partitions (
    origin        text        PRIMARY KEY,
    tenant        text        NOT NULL,
    own_partition boolean     NOT NULL,
    suffix        text        NOT NULL,
    range_size    bigint      NOT NULL CHECK (range_size > 0),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    detached      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    detached_at   timestamptz
);
INSERT INTO ledger_partitions (origin, tenant, own_partition, suffix, range_size)
VALUES ('', '*', true, 'default', 1048576);
GRANT SELECT ON ledger_partitions TO ledger_sequencer, ledger_operator;

-- What every new partition gets that PostgreSQL does not clone: its own TRUNCATE refusal when
-- the root table has one, and row level security on (nobody holds a privilege on a partition,
-- so this is belt and braces: direct access finds no policy).
CREATE FUNCTION ledger_partition_guard(part text, root text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = root::regclass
               AND t.tgname = root || '_no_truncate') THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION ledger_refuse_change()', part || '_no_truncate', part);
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
END
$$;

-- Upper bound of the seq ranges of `parent` (0 when it has none).
CREATE FUNCTION ledger_range_hi(parent text) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(max((regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                      'TO \(''?(-?\d+)''?\)'))[1]::bigint), 0)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = parent::regclass
$$;

-- Create the seq ranges of `parent` (an events list partition) up to the range holding `upto`
-- plus one spare range; returns the new upper bound. Rows found in the DEFAULT range partition
-- (`<parent>_rest`) for a range about to be made are moved into it in this transaction: the
-- append-only trigger of `_rest` is disabled for the DELETE and enabled again before anyone
-- else can see the catalog change (DDL is transactional), and exactly the rows copied are
-- deleted, so no row is lost or changed.
CREATE FUNCTION ledger_create_ranges(parent text, size bigint, upto bigint) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
$$;

-- The sequencer's door (ledger.store.partitions.ensure_ranges): ranges for `p_origin` up to
-- `p_upto`, as the owner. `created` = 0 when nothing was missing (the caller may cache `hi`).
-- Origins without a partition of their own share the DEFAULT partition's ranges; only when a
-- range is missing, a transaction-scoped lock per events partition serialises two sequencers
-- crossing together (the second finds the range made and creates nothing).
CREATE FUNCTION ledger_ensure_ranges(p_origin text, p_upto bigint,
                                     OUT hi bigint, OUT range_size bigint, OUT created integer)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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
REVOKE ALL ON FUNCTION ledger_ensure_ranges(text, bigint), ledger_partition_guard(text, text),
    ledger_create_ranges(text, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_ensure_ranges(text, bigint) TO ledger_sequencer;

-- A detached partition keeps refusing UPDATE and DELETE: DETACH drops the row triggers
-- PostgreSQL cloned into it, so they are created again on the table itself (recursing into its
-- own partitions); its TRUNCATE refusal was its own and stays.
CREATE FUNCTION ledger_keep_append_only(part text, root text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = root::regclass
               AND t.tgname = root || '_append_only') THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE OR UPDATE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION ledger_refuse_change()', root || '_append_only', part);
    END IF;
END
$$;

-- `ledger tenants add T --own-partition` (owner only, one transaction): a list partition per
-- table for `p_origin`, the events one range sub-partitioned. Rows the tenant already has in
-- the DEFAULT partitions are copied into the new tables, then deleted from the DEFAULT ones
-- with their append-only trigger disabled for that one DELETE and enabled again in the same
-- transaction (no other session ever sees it disabled: DDL is transactional and the ALTER
-- holds a lock that keeps writers out until commit), and the DELETE must remove exactly as
-- many rows as were copied. Then the tables are attached. Returns the events moved.
CREATE FUNCTION ledger_own_partition(p_origin text, p_tenant text, p_size bigint) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
$$;

-- `ledger tenants detach T` (owner only): detach the tenant's partitions of every table, which
-- stay as standalone append-only tables. Refused while intake holds events of the tenant.
CREATE FUNCTION ledger_detach_tenant(p_origin text) RETURNS text[]
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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

-- detach_range (owner only): the whole range partitions covering exactly [lo, hi) of an origin
-- with a partition of its own, never the one holding the newest checkpoint's tail; detached,
-- kept append-only, or dropped. Returns the tables.
CREATE FUNCTION ledger_detach_range(p_origin text, lo bigint, hi bigint, p_drop boolean)
    RETURNS text[]
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
REVOKE ALL ON FUNCTION ledger_keep_append_only(text, text), ledger_detach_tenant(text),
    ledger_own_partition(text, text, bigint), ledger_detach_range(text, bigint, bigint, boolean)
    FROM PUBLIC;

-- Rebuild one table in place as `PARTITION BY LIST (origin)` with a DEFAULT partition (range
-- sub-partitioned for events), recreating its indexes (unique ones without the partition key
-- become plain), triggers, extended statistics, row level security, policies and grants from
-- the catalog entries of the table being replaced, then moving its rows.
CREATE FUNCTION pg_temp.ledger_repartition(tbl text, by_range boolean) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    old text := tbl || '_unpartitioned';
    oid_ regclass := tbl::regclass;
    pk text;
    ix text[];
    trg text[];
    stx text[];
    pol text[];
    acl text[];
    d text;
    rls boolean;
BEGIN
    SELECT pg_get_constraintdef(c.oid) INTO pk FROM pg_constraint c
    WHERE c.conrelid = oid_ AND c.contype = 'p';
    SELECT coalesce(array_agg(replace(pg_get_indexdef(i.indexrelid), 'CREATE UNIQUE INDEX',
                                      'CREATE INDEX')), '{}')
    INTO ix FROM pg_index i WHERE i.indrelid = oid_ AND NOT i.indisprimary;
    SELECT coalesce(array_agg(pg_get_triggerdef(t.oid)), '{}') INTO trg
    FROM pg_trigger t WHERE t.tgrelid = oid_ AND NOT t.tgisinternal;
    SELECT coalesce(array_agg(pg_get_statisticsobjdef(s.oid)), '{}')
    INTO stx FROM pg_statistic_ext s WHERE s.stxrelid = oid_;
    SELECT coalesce(array_agg(format('CREATE POLICY %I ON %I AS %s FOR %s TO %s%s%s',
               p.policyname, tbl, p.permissive, p.cmd, array_to_string(p.roles, ', '),
               ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')), '{}')
    INTO pol FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = tbl;
    SELECT coalesce(array_agg(format('GRANT %s ON %I TO %s', a.privilege_type, tbl,
                                     a.grantee::regrole::text)), '{}')
    INTO acl FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = oid_ AND a.grantee <> c.relowner AND a.grantee <> 0;
    SELECT c.relrowsecurity INTO rls FROM pg_class c WHERE c.oid = oid_;

    FOR d IN SELECT i.indexrelid::regclass::text FROM pg_index i
             WHERE i.indrelid = oid_ AND NOT i.indisprimary LOOP
        EXECUTE format('DROP INDEX %s', d);
    END LOOP;
    FOR d IN SELECT s.stxname::text FROM pg_statistic_ext s WHERE s.stxrelid = oid_ LOOP
        EXECUTE format('DROP STATISTICS %I', d);
    END LOOP;
    EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', tbl, tbl || '_pkey', old || '_pkey');
    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
    EXECUTE format('CREATE TABLE public.%I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
                   'PARTITION BY LIST (origin)', tbl, old);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', tbl, tbl || '_pkey', pk);
    IF by_range THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF %I DEFAULT PARTITION BY RANGE (seq)',
                       tbl || '_default', tbl);
        EXECUTE format('CREATE TABLE public.%I PARTITION OF %I DEFAULT', tbl || '_default_rest',
                       tbl || '_default');
    ELSE
        EXECUTE format('CREATE TABLE public.%I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    END IF;
    FOREACH d IN ARRAY ix || trg || stx LOOP EXECUTE d; END LOOP;
    IF rls THEN EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl); END IF;
    FOREACH d IN ARRAY pol || acl LOOP EXECUTE d; END LOOP;
    PERFORM ledger_partition_guard(tbl || '_default', tbl);
    IF by_range THEN
        PERFORM ledger_partition_guard(tbl || '_default_rest', tbl);
        PERFORM ledger_create_ranges(tbl || '_default', 1048576,
                                     (SELECT coalesce(max(seq), 0) FROM ledger_events_unpartitioned));
    END IF;
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old);
    EXECUTE format('DROP TABLE %I', old);
END
$$;

-- The guard of global uniqueness (contract 1): one row per stored event, same transaction.
CREATE TABLE ledger_event_keys (
    event_id uuid   PRIMARY KEY,
    run_id   uuid   NOT NULL,
    run_seq  bigint NOT NULL,
    origin   text   NOT NULL,
    CONSTRAINT ledger_event_keys_run UNIQUE (run_id, run_seq)
);
INSERT INTO ledger_event_keys (event_id, run_id, run_seq, origin)
SELECT event_id, run_id, run_seq, origin FROM ledger_events;
CREATE TRIGGER ledger_event_keys_append_only BEFORE UPDATE OR DELETE ON ledger_event_keys
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_event_keys_no_truncate BEFORE TRUNCATE ON ledger_event_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
ALTER TABLE ledger_event_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY service_all ON ledger_event_keys TO ledger_sequencer USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON ledger_event_keys TO ledger_sequencer;

SELECT pg_temp.ledger_repartition('ledger_events', true);
SELECT pg_temp.ledger_repartition('ledger_tiles', false);
SELECT pg_temp.ledger_repartition('ledger_checkpoints', false);
SELECT pg_temp.ledger_repartition('ledger_cosigned', false);
ANALYZE ledger_events;
