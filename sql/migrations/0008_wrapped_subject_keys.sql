-- Wrapped subject keys (issue 14, "keys outside the process"): envelope encryption.
--
-- A subject key is now an X25519 key pair: `public_key` in the clear (writers seal payloads to
-- it with a SealedBox and need no secret), `wrapped_key` = the private key wrapped by the
-- ledger's key-encryption key (KEK), which lives outside the database (a 0600 file or a
-- PKCS#11 token; ledger/kek.py). `scheme` says how it is wrapped; `kek_id` names the KEK.
-- Rows from before this migration keep their plaintext `key` as scheme 'legacy-secretbox' and
-- stay readable; the NOT VALID check below admits no new legacy row, so a hostile writer
-- cannot plant a plaintext key for a subject other writers will write to. A payload's
-- encryption follows its subject's scheme (SecretBox for legacy, SealedBox otherwise).
-- Erasure still deletes the whole row: the wrapped private key goes with it.
ALTER TABLE ledger_subject_keys
    ADD COLUMN IF NOT EXISTS scheme text NOT NULL DEFAULT 'legacy-secretbox',
    ADD COLUMN IF NOT EXISTS public_key bytea,
    ADD COLUMN IF NOT EXISTS wrapped_key bytea,
    ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE ledger_subject_keys ALTER COLUMN scheme DROP DEFAULT;
ALTER TABLE ledger_subject_keys ALTER COLUMN key DROP NOT NULL;

ALTER TABLE ledger_subject_keys DROP CONSTRAINT IF EXISTS subject_key_shape;
ALTER TABLE ledger_subject_keys ADD CONSTRAINT subject_key_shape CHECK (
    CASE scheme
        WHEN 'legacy-secretbox' THEN key IS NOT NULL AND public_key IS NULL
        WHEN 'x25519-sealed' THEN key IS NULL AND length(public_key) = 32
            AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL
        WHEN 'pkcs11-rsa-oaep' THEN key IS NULL AND length(public_key) = 32
            AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL
        ELSE false
    END
);
ALTER TABLE ledger_subject_keys DROP CONSTRAINT IF EXISTS subject_key_wrapped;
ALTER TABLE ledger_subject_keys
    ADD CONSTRAINT subject_key_wrapped CHECK (scheme <> 'legacy-secretbox') NOT VALID;
