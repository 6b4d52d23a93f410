-- log_has_checkpoints --
-- Whether any log already has a signed checkpoint (then a missing log key is never re-created).
SELECT EXISTS (SELECT 1 FROM ledger_checkpoints)

-- record_trust_root --
-- The root of trust of an origin prefix, written once (ledger_trust_roots is append-only);
-- an existing row is kept, never replaced. Returns the row now stored.
WITH ins AS (
    INSERT INTO ledger_trust_roots (origin_prefix, vkey) VALUES (%(prefix)s, %(vkey)s)
    ON CONFLICT (origin_prefix) DO NOTHING
    RETURNING vkey
)
SELECT vkey FROM ins
UNION ALL
SELECT vkey FROM ledger_trust_roots WHERE origin_prefix = %(prefix)s

-- stored_trust_root --
-- The root of trust recorded in the database for an origin prefix (no row: none recorded yet).
SELECT vkey FROM ledger_trust_roots WHERE origin_prefix = %(prefix)s
