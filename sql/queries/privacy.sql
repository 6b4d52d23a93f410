-- Encrypted payloads of committed fields and the per-subject keys that crypto-shredding deletes.

-- insert_subject_key --
INSERT INTO ledger_subject_keys (origin, subject, scheme, public_key, wrapped_key, kek_id)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (origin, subject) DO NOTHING

-- subject_key --
SELECT scheme, key, public_key, wrapped_key, kek_id
FROM ledger_subject_keys WHERE origin = %s AND subject = %s

-- insert_payloads --
-- scheme..kek_id: the payload's own envelope (a confined writer's, migration 0010) or NULLs
INSERT INTO ledger_payloads (commitment, origin, subject, event_id, path, ciphertext,
                             scheme, public_key, wrapped_key, kek_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::uuid[], %s::text[], %s::bytea[],
                     %s::text[], %s::bytea[], %s::bytea[], %s::text[])
ON CONFLICT (commitment) DO NOTHING

-- subject_commitments --
SELECT commitment FROM ledger_payloads WHERE origin = %s AND subject = %s ORDER BY commitment

-- shred_subject_key --
DELETE FROM ledger_subject_keys WHERE origin = %s AND subject = %s

-- shred_subject_payloads --
DELETE FROM ledger_payloads WHERE origin = %s AND subject = %s

-- origin_payloads --
SELECT p.commitment, p.path, p.ciphertext, p.subject,
       coalesce(p.scheme, k.scheme), CASE WHEN p.scheme IS NULL THEN k.key END,
       coalesce(p.public_key, k.public_key), coalesce(p.wrapped_key, k.wrapped_key),
       coalesce(p.kek_id, k.kek_id)
FROM ledger_payloads p
LEFT JOIN ledger_subject_keys k ON k.origin = p.origin AND k.subject = p.subject
WHERE p.origin = %s

-- commitment_payloads --
-- Payloads of some events' commitments (ledger check opens every run's tokens in one query).
SELECT p.event_id, p.commitment, p.path, p.ciphertext, p.subject,
       coalesce(p.scheme, k.scheme), CASE WHEN p.scheme IS NULL THEN k.key END,
       coalesce(p.public_key, k.public_key), coalesce(p.wrapped_key, k.wrapped_key),
       coalesce(p.kek_id, k.kek_id)
FROM ledger_payloads p
LEFT JOIN ledger_subject_keys k ON k.origin = p.origin AND k.subject = p.subject
WHERE p.origin = %s AND p.event_id = ANY(%s::uuid[]) AND p.commitment = ANY(%s::text[])

-- payloads_table_exists --
SELECT to_regclass('ledger_payloads') IS NOT NULL
