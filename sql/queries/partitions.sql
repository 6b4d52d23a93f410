-- Partitioned storage (migration 0026, ledger/store/partitions.py, docs/partitions.md).

-- ensure_ranges --
-- The seq ranges of an origin's events partition up to a seq, made by the owner's function
-- (SECURITY DEFINER; the sequencer may call it, writers may not). Returns the upper bound, the
-- range size and how many ranges were created now.
SELECT hi, range_size, created FROM ledger_ensure_ranges(%s, %s)

-- guard_keys --
-- Global uniqueness of event_id and (run_id, run_seq) across partitions (contract 1): one guard
-- row per event, in the batch transaction; a duplicate raises a unique violation.
INSERT INTO ledger_event_keys (event_id, run_id, run_seq, origin)
SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::bigint[], %s::text[])

-- partition_catalog --
-- Every layout row: the DEFAULT partition ('' origin) and each tenant added.
SELECT p.origin, p.tenant, p.own_partition, p.suffix, p.range_size, p.created_at,
       p.detached::text, p.detached_at
FROM ledger_partitions p ORDER BY p.origin

-- seq_ranges --
-- The range partitions of an events partition (attached), with their bounds; the DEFAULT range
-- partition (`_rest`) has none and is left out.
SELECT c.relname::text,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?\d+)''?\)'))[1]::bigint,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?\d+)''?\)'))[1]::bigint
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(%s) AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
ORDER BY 2

-- add_tenant_shared --
-- A tenant listed in the catalog without a partition of its own (its rows stay in DEFAULT).
INSERT INTO ledger_partitions (origin, tenant, own_partition, suffix, range_size)
SELECT %s, %s, false, 'default', d.range_size FROM ledger_partitions d WHERE d.origin = ''
ON CONFLICT (origin) DO NOTHING

-- own_partition --
SELECT ledger_own_partition(%s, %s, %s)

-- detach_tenant --
SELECT ledger_detach_tenant(%s)

-- detach_range --
SELECT ledger_detach_range(%s, %s, %s, %s)

-- origin_rows --
-- Rows and intake of each origin (the tenants list).
SELECT o.origin, (SELECT count(*) FROM ledger_events e WHERE e.origin = o.origin),
       (SELECT count(*) FROM ledger_intake i WHERE i.origin = o.origin)
FROM unnest(%s::text[]) AS o(origin)


-- tenant_detached_final --
-- `ledger tenants detach` (owner): the final size and root of the detached log kept in its
-- catalog row, as a detached entry of scope 'tenant' covering [lo, size).
UPDATE ledger_partitions p
SET detached = p.detached || jsonb_build_array(jsonb_build_object(
    'scope', 'tenant', 'lo', %(lo)s::bigint, 'hi', %(size)s::bigint, 'size', %(size)s::bigint,
    'root', %(root)s::text, 'tables', to_jsonb(%(tables)s::text[]), 'at', clock_timestamp()))
WHERE p.origin = %(origin)s

-- detached_tenants --
-- Tenants detached whole, with the final size and root kept at detach time (NULLs for a
-- tenant detached before they were kept).
SELECT p.origin, p.tenant, p.detached_at::text, (f.e ->> 'size')::bigint, f.e ->> 'root'
FROM ledger_partitions p
LEFT JOIN LATERAL (SELECT e FROM jsonb_array_elements(p.detached) e
                   WHERE e ->> 'scope' = 'tenant' LIMIT 1) f ON true
WHERE p.detached_at IS NOT NULL AND p.origin <> ''
ORDER BY p.origin
