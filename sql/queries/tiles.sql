-- Stored subtree hashes (tlog-tiles layout; see ledger/tiles.py).

-- select_tiles --
SELECT level, idx, hashes FROM ledger_tiles
WHERE origin = %s AND (level, idx) IN (SELECT * FROM unnest(%s::smallint[], %s::bigint[]))

-- upsert_tiles --
-- A tile only ever grows: a shorter copy (a late writer with an older edge) never wins.
INSERT INTO ledger_tiles (origin, level, idx, hashes)
SELECT %s, l, i, h FROM unnest(%b::smallint[], %b::bigint[], %b::bytea[]) AS t(l, i, h)
ON CONFLICT (origin, level, idx) DO UPDATE SET hashes = EXCLUDED.hashes
WHERE length(EXCLUDED.hashes) >= length(ledger_tiles.hashes)

-- delete_tiles --
DELETE FROM ledger_tiles WHERE origin = %s

-- copy_leaf_hashes --
COPY (SELECT leaf_hash FROM ledger_events WHERE origin = %s AND seq < %s ORDER BY seq)
TO STDOUT (FORMAT BINARY)

-- tile_length --
SELECT length(hashes) FROM ledger_tiles WHERE origin = %s AND level = 0 AND idx = %s

-- copy_bodies_range --
-- The stored canonical bodies of seq lo .. hi-1 in seq order: the entry bundles of tlog-tiles
-- (ledger/tiles_static.py).
COPY (SELECT body FROM ledger_events WHERE origin = %s AND seq >= %s AND seq < %s ORDER BY seq)
TO STDOUT (FORMAT BINARY)
