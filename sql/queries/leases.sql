-- Leadership per origin (issue 20 item 2, migration 0027; ledger/store/leases.py).

-- share_sequencer_row --
-- A batch: shares the key-operations row (a rotation's FOR UPDATE waits for every batch, and
-- no batch starts while it runs). KEY SHARE, so serve's heartbeat UPDATE never waits for one.
SELECT 1 FROM ledger_sequencer_state FOR KEY SHARE

-- try_share_sequencer_row --
SELECT 1 FROM ledger_sequencer_state FOR KEY SHARE SKIP LOCKED

-- work_origins --
-- The origins with rows in intake, fresh or held: one index probe per origin (a skip scan).
WITH RECURSIVE fresh(origin) AS (
    (SELECT origin FROM ledger_intake WHERE held_at IS NULL ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT i.origin FROM ledger_intake i WHERE i.held_at IS NULL AND i.origin > f.origin
            ORDER BY i.origin LIMIT 1)
    FROM fresh f WHERE f.origin IS NOT NULL),
held(origin) AS (
    (SELECT origin FROM ledger_intake WHERE held_at IS NOT NULL ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT i.origin FROM ledger_intake i
            WHERE i.held_at IS NOT NULL AND i.origin > h.origin ORDER BY i.origin LIMIT 1)
    FROM held h WHERE h.origin IS NOT NULL)
SELECT origin FROM fresh WHERE origin IS NOT NULL
UNION SELECT origin FROM held WHERE origin IS NOT NULL
ORDER BY origin

-- lease_view --
-- The origins with work (parameter) or a live lease, each with its lease (parameter: lease
-- seconds): holder, live (unexpired), starving (free for longer than a lease: claimable by
-- anyone, whatever its share), and whether the row exists. Live leases count in the fair share
-- even when idle, so work arriving one origin at a time still spreads over the holders.
WITH o(origin) AS (
    SELECT unnest(%s::text[])
    UNION SELECT origin FROM ledger_sequencer_leases WHERE expires_at > clock_timestamp())
SELECT o.origin, l.holder, coalesce(l.expires_at > clock_timestamp(), false),
       coalesce(l.expires_at < clock_timestamp() - make_interval(secs => %s::float8), false),
       l.origin IS NOT NULL
FROM o LEFT JOIN ledger_sequencer_leases l ON l.origin = o.origin
ORDER BY o.origin

-- live_holders --
-- `ledger serve` processes seen within a lease, with the tenants each prefers.
SELECT holder, tenants FROM ledger_sequencer_holders
WHERE seen_at > clock_timestamp() - make_interval(secs => %s::float8)

-- lease_rows_add --
INSERT INTO ledger_sequencer_leases (origin)
SELECT o FROM unnest(%s::text[]) AS o ORDER BY o
ON CONFLICT (origin) DO NOTHING

-- lease_claim --
-- Take or renew (parameters: origins, then the holder four times, lease seconds): only rows
-- that are ours or expired, and only those no other batch has locked. Returns the origins leased.
WITH c AS (SELECT origin FROM ledger_sequencer_leases
           WHERE origin = ANY (%s::text[])
             AND (holder = %s OR expires_at <= clock_timestamp())
           ORDER BY origin FOR UPDATE SKIP LOCKED)
UPDATE ledger_sequencer_leases l
SET batches = CASE WHEN l.holder = %s THEN l.batches + 1 ELSE 1 END,
    acquired_at = CASE WHEN l.holder = %s THEN l.acquired_at ELSE clock_timestamp() END,
    holder = %s,
    expires_at = clock_timestamp() + make_interval(secs => %s::float8)
FROM c WHERE l.origin = c.origin
RETURNING l.origin

-- lease_lock_free --
-- An embedded writer's batch: the expired or never held origins no batch has locked, for this
-- transaction only (it renews nothing, so `ledger serve` keeps its share).
SELECT origin FROM ledger_sequencer_leases
WHERE origin = ANY (%s::text[]) AND expires_at <= clock_timestamp()
ORDER BY origin FOR UPDATE SKIP LOCKED

-- lease_lock_all --
-- A caller that waits (a rotation, `append(..., wait)`): every origin, whoever holds it, in
-- origin order (no deadlock between two waiting callers).
SELECT origin FROM ledger_sequencer_leases
WHERE origin = ANY (%s::text[])
ORDER BY origin FOR UPDATE

-- lease_release --
-- Give origins back at once (parameters: origins, holder): over the fair share, or a clean exit.
UPDATE ledger_sequencer_leases SET expires_at = clock_timestamp()
WHERE origin IN (SELECT origin FROM ledger_sequencer_leases
                 WHERE origin = ANY (%s::text[]) AND holder = %s
                   AND expires_at > clock_timestamp()
                 FOR UPDATE SKIP LOCKED)

-- lease_held_by --
SELECT origin FROM ledger_sequencer_leases WHERE holder = %s AND expires_at > clock_timestamp()

-- holder_seen --
INSERT INTO ledger_sequencer_holders (holder, tenants) VALUES (%s, %s::text[])
ON CONFLICT (holder) DO UPDATE SET seen_at = clock_timestamp(), tenants = EXCLUDED.tenants

-- holder_gone --
DELETE FROM ledger_sequencer_holders WHERE holder = %s

-- holders_prune --
-- Holders not seen for a day (crashed long ago): the table stays the size of the fleet.
DELETE FROM ledger_sequencer_holders WHERE seen_at < clock_timestamp() - interval '1 day'

-- lease_renew --
-- A live holder keeps its origins between batches (parameters: lease seconds, holder): an
-- origin stays with its sequencer while that one lives, and moves only by the fair share
-- (Lessee.beat gives back what the share gives to another live holder first).
UPDATE ledger_sequencer_leases SET expires_at = clock_timestamp() + make_interval(secs => %s::float8)
WHERE origin IN (SELECT origin FROM ledger_sequencer_leases
                 WHERE holder = %s AND expires_at > clock_timestamp()
                 FOR UPDATE SKIP LOCKED)
